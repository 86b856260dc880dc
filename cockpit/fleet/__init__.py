"""``cockpit fleet``: every rollout the operator can see, one line each, and who each is waiting on.

``row`` folds one rollout into its line, ``text`` renders it, ``sources`` finds the file logs, ``watch``
keeps the fleet current cheaply, ``open`` opens one rollout of it (its dashboard, its kill switch) and
closes it again. What a running cockpit publishes for the fleet is :mod:`cockpit.store.publish`.
"""
