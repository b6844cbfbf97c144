"""The closed vocabularies shared by rules, events, decisions and the API."""

from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    POS = "pos"
    WEB = "web"
    CALL_CENTRE = "call_centre"
    MAIL = "mail"

    @property
    def reaches_out(self) -> bool:
        """Whether something can be sent on it; on the till and the web shop the customer must come to us."""
        return self not in (Channel.POS, Channel.WEB)


class Family(StrEnum):
    """The proactivation family of a rule and of the actions it proposes."""

    MAINTENANCE_DUE = "maintenance_due"
    REPLENISHMENT = "replenishment"
    PLANNED_PURCHASE = "planned_purchase"
    PROBLEM_PREVENTION = "problem_prevention"


class Outcome(StrEnum):
    DELIVERED = "delivered"
    OPENED = "opened"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"
    CONVERTED = "converted"
    COMPLAINED = "complained"
    UNSUBSCRIBED = "unsubscribed"
