"""Use cases: load rows, ask the policy, trace the decision, act; raise only at the edge."""
