"""The tree a ``createCommitOnBranch`` commit will have, computed before it exists.

prplan seals every commit's message with the tree it will have
(``seal_message``) and counts a commit as its own only when the real tree is
the sealed one. Over REST prplan writes the tree itself, so it knows it; over
GraphQL GitHub builds it, so the client predicts it from the parent's
directories on the way to each changed path, hashing git trees locally
(dulwich), and checks GitHub's answer against the prediction.

Pure: no I/O. ``None`` from ``predict_tree`` means GraphQL cannot make this
commit as prplan means it (a path whose mode is or must stay other than
100644, a path under a file, a file over a directory, a directory on the way
holding a name that is not UTF-8): the client commits through REST instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dulwich.objects import Blob, Tree

from prplan.forges.github.graphql_documents import ancestor_directories

__all__ = ["Listing", "directories_on_the_way", "listing_of", "predict_tree"]

#: A directory's entries: name -> (mode, oid); None: the directory is absent.
Listing = dict[str, tuple[int, str]] | None

_FILE = 0o100644
_DIRECTORY = 0o040000


def directories_on_the_way(paths: Sequence[str]) -> list[str]:
    """Every directory from the root down to each path's parent, once,
    parents before children (``""`` is the root)."""
    return ancestor_directories(paths) or [""]


#: What GitHub's ``TreeEntry.name`` (a ``String``) shows in place of bytes
#: that are not UTF-8: the name's bytes cannot be known from it.
REPLACED = "\ufffd"


def listing_of(answer: object) -> Listing | bool:
    """A ``DirectoryEntries`` answer as a listing: None when absent, False
    when it cannot be predicted from: the object is not a tree (a file where
    a directory should be), or a name in it is not faithfully text (it holds
    U+FFFD, what GitHub shows for bytes that are not UTF-8: hashing the
    text would predict another tree, so REST commits instead)."""
    if answer is None:
        return None
    if not isinstance(answer, dict) or answer.get("__typename") != "Tree":
        return False
    entries = answer.get("entries") or []
    if any(REPLACED in str(e["name"]) for e in entries):
        return False
    return {e["name"]: (int(e["mode"]), str(e["oid"])) for e in entries}


def _tree_sha(entries: Mapping[str, tuple[int, str]]) -> str:
    tree = Tree()
    for name, (mode, oid) in entries.items():
        tree.add(name.encode("utf-8"), mode, oid.encode("ascii"))
    return str(tree.id.decode("ascii"))


def predict_tree(listings: Mapping[str, Listing], files: Mapping[str, bytes | None]) -> str | None:
    """The root tree after writing (bytes, mode 100644) or deleting (None)
    each path of ``files`` over the parent's ``listings`` (every directory
    of ``directories_on_the_way``); None when GraphQL cannot make it."""
    trees = {d: dict(listing or {}) for d, listing in listings.items()}
    for path, content in files.items():
        parent, _, name = path.rpartition("/")
        if parent not in trees or path in trees:
            return None  # not read, or a directory where a file goes
        old = trees[parent].get(name)
        if content is None:
            if old is not None and old[0] == _DIRECTORY:
                return None
            trees[parent].pop(name, None)
            continue
        if old is not None and old[0] != _FILE:
            return None  # executable, symlink, submodule or directory: REST keeps the mode
        trees[parent][name] = (_FILE, Blob.from_string(content).id.decode("ascii"))
    for directory in sorted(trees, key=lambda d: d.count("/"), reverse=True):
        if not directory:
            continue
        parent, _, name = directory.rpartition("/")
        if trees[directory]:
            trees[parent][name] = (_DIRECTORY, _tree_sha(trees[directory]))
        else:  # git keeps no empty directory
            trees[parent].pop(name, None)
    return _tree_sha(trees[""])
