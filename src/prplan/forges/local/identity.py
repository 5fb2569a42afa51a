"""Who acts on the local forge when nobody says: constants only, so that
the command can name them (in its help) without loading the forge."""

__all__ = ["HUMAN"]

#: Who a human's commits are by, unless a test says otherwise.
HUMAN = "A Human <human@example.com>"
