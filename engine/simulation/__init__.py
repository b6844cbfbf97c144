"""`forestall simulate`: a synthetic population living day by day on a virtual clock, with Forestall deciding.

Each simulated customer has latent needs that Forestall only sees through events
(assets wearing towards a service, consumables running out, follow-on purchases,
grievances) and a satisfaction that drives reviews and churn. Each day they act
(`life.World`), Forestall is told and asked (`loop.run`), and they respond to what
it shows them (`response.respond`): well-timed help keeps them, irrelevant or too
frequent contact annoys them. Control customers' actions are decided and logged but
never shown, so the report's uplift measures what contact did. Randomness is seeded
and time is virtual: the same seed gives the same run.
"""
