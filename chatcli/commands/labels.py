"""Pins and tags: the handlers of ``sessions pin|unpin|tag|untag`` (their specs and the ``--tag``
filter of list and search are in :mod:`chatcli.commands.sessions_table`), and the confirmation a
pinned session needs before it is deleted.

A pinned session is marked in lists, comes first in the picker, is never pruned, and is deleted
only with ``--force`` or after a confirmation that names it as pinned. Tags are short labels
(:func:`chatcli.session.fields.validate_tag`), case-insensitive, at most 20 a session.
"""

from __future__ import annotations

from chatcli.commands.context import CommandContext
from chatcli.commands.refs import session_ref
from chatcli.commands.results import SessionChanged, TagsChanged
from chatcli.commands.spec import ParsedArgs
from chatcli.session.errors import OperationRefused
from chatcli.session.fields import SessionView, validate_tag

__all__ = ["confirm_pinned_delete", "pin_session", "tag_session", "unpin_session", "untag_session"]


def pin_session(ctx: CommandContext, args: ParsedArgs) -> SessionChanged:
    """``sessions pin [ID]`` (says so when the session already is pinned)."""
    meta = ctx.service.resolve(session_ref(ctx, args.text("id"), f"{ctx.prefix}sessions pin ID"))
    if meta.pinned:
        return SessionChanged("pinned", meta, unchanged=True)
    return SessionChanged("pinned", ctx.service.set_pinned(meta.id, True))


def unpin_session(ctx: CommandContext, args: ParsedArgs) -> SessionChanged:
    """``sessions unpin [ID]`` (says so when the session is not pinned)."""
    meta = ctx.service.resolve(session_ref(ctx, args.text("id"), f"{ctx.prefix}sessions unpin ID"))
    if not meta.pinned:
        return SessionChanged("unpinned", meta, unchanged=True)
    return SessionChanged("unpinned", ctx.service.set_pinned(meta.id, False))


def _given_tags(args: ParsedArgs) -> tuple[str, ...]:
    """The TAG… words, validated (an invalid one fails the command before anything is written)."""
    return tuple(dict.fromkeys(validate_tag(word) for word in args.required("tag").split()))


def tag_session(ctx: CommandContext, args: ParsedArgs) -> TagsChanged:
    """``sessions tag ID TAG…``: add tags (those already there are kept once)."""
    ref = session_ref(ctx, args.required("id"), f"{ctx.prefix}sessions tag ID TAG…")
    tags = _given_tags(args)
    meta = ctx.service.resolve(ref)
    if all(tag in meta.tags for tag in tags):
        return TagsChanged("tagged", meta, tags, unchanged=True)
    return TagsChanged("tagged", ctx.service.tag(meta.id, tags), tags)


def untag_session(ctx: CommandContext, args: ParsedArgs) -> TagsChanged:
    """``sessions untag ID TAG…``: remove tags (tags the session does not have are ignored)."""
    ref = session_ref(ctx, args.required("id"), f"{ctx.prefix}sessions untag ID TAG…")
    tags = _given_tags(args)
    meta = ctx.service.resolve(ref)
    if not any(tag in meta.tags for tag in tags):
        return TagsChanged("untagged", meta, tags, unchanged=True)
    return TagsChanged("untagged", ctx.service.untag(meta.id, tags), tags)


def confirm_pinned_delete(
    ctx: CommandContext, meta: SessionView, what: str, *, yes: bool, permanent: bool = False
) -> bool:
    """Whether to delete the pinned session ``meta`` (``what`` describes it): only after a question
    naming it as pinned. ``--yes`` alone does not do (it means "do not ask", and a pin means "ask"):
    without a terminal, or with ``--yes``, it is refused with the way out (``--force``, ``unpin``)."""
    if yes or ctx.confirm is None:
        reason = "--yes alone does not delete a pinned session" if yes else "no terminal to ask on"
        raise OperationRefused(
            f"session {what} is pinned; {reason}",
            f"Nothing was deleted. Add --force to delete it anyway ({ctx.prefix}sessions delete {meta.id} "
            f"{'--permanent ' if permanent else ''}--force{' --yes' if yes else ''}), or unpin it first: "
            f"{ctx.prefix}sessions unpin {meta.id}",
        )
    if permanent:
        return ctx.confirm(f"Session {what} is PINNED. Delete this pinned session for good (no trash)?")
    return ctx.confirm(f"Session {what} is PINNED. Move this pinned session to the trash?")
