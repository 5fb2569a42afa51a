"""The stateful machine over HTTP with GitHubClient's GraphQL transport
(the default), defined in test_stateful.py: in a file of its own so that
the suite's workers (``--dist loadfile``) run it beside the other machines
instead of after them."""

from __future__ import annotations

from hypothesis import settings

from test_stateful import PrplanAmongHumansOverGraphQL

TestPrplanAmongHumansOverGraphQL = PrplanAmongHumansOverGraphQL.TestCase
#: A third of the profile's examples (dev 10, CI 50), 25 steps each.
TestPrplanAmongHumansOverGraphQL.settings = settings(
    stateful_step_count=25, max_examples=settings.default.max_examples // 3 or 1
)
