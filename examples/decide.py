"""Ask Forestall for a customer's next-best-actions with the committed stubs.

python examples/decide.py --target 127.0.0.1:50051 demo-boiler
"""

import argparse

import grpc

from engine.api.generated import common_pb2, decision_pb2, decision_pb2_grpc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("customer_id")
    parser.add_argument("--target", default="127.0.0.1:50051")
    args = parser.parse_args()

    with grpc.insecure_channel(args.target) as channel:
        stub = decision_pb2_grpc.DecisionServiceStub(channel)
        response = stub.Decide(
            decision_pb2.DecideRequest(
                customer_id=args.customer_id,
                touchpoint=decision_pb2.Touchpoint(channel=common_pb2.EMAIL, name="example"),
                max_actions=3,
            ),
            timeout=5,
        )
    models = response.model_version or "none"
    print(f"decision {response.decision_id} (rules {response.ruleset_version}; models {models})")
    for action in response.actions:
        print(f"- {action.offer_id} via {common_pb2.Channel.Name(action.channel)}, score {action.score:g}")
        print(f"  {action.message.text}")
        print(f"  because rule {action.reason.rule_id}: {dict(action.reason.matched_facts)}")
        print(f"  score: {action.reason.score_explanation}")
    if not response.actions:
        print("no action due")


if __name__ == "__main__":
    main()
