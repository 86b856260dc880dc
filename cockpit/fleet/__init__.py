"""``cockpit fleet``: every rollout the operator can see, one line each, and who each is waiting on.

``row`` folds one rollout into its line, ``sources`` finds and reads the rollouts (the shared PostgreSQL
record, the file logs), ``watch`` keeps the fleet current cheaply, ``publish`` is what a running cockpit
writes so that a fleet can show its judgements without polling any metric source itself.
"""
