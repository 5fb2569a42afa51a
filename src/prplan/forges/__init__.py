"""The forges: ``github`` (``GitHubClient``) and ``local`` (``LocalForge`` and its
server), each implementing ``prplan.run.port.ForgeClient``, neither
importing the other.
"""
