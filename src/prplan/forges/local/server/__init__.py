"""The local forge served over HTTP as GitHub's REST API (``ForgeApp``, ``ForgeServer``)."""

from prplan.forges.local.server.app import API, ForgeApp, ForgeServer, RequestLog

__all__ = ["API", "ForgeApp", "ForgeServer", "RequestLog"]
