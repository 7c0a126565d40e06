"""Upgrade requests: validate an `Upgrade Requested` event against the guards, then write the new versions to SSM.

SSM stays the single source of truth: an accepted upgrade is nothing but parameter writes, and the parameter-change
trigger runs the deployment as for any other change.
"""
