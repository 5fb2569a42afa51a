"""What talks to a forge: the ``ForgeClient`` protocol (``port``), ``observe``,
the executor (``apply``), outcomes, the audit trail, review reads and change
sets. Imports ``prplan.core`` and below, never a forge.
"""
