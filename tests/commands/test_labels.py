"""Pins and tags (``sessions pin|unpin|tag|untag``, ``--tag`` filters, pinned refusals), driven
through ``registry.run`` like the REPL and the command line do."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from chatcli.commands.context import CommandContext
from chatcli.commands.registry import Registry
from chatcli.commands.results import Cancelled, SessionChanged, TagsChanged
from chatcli.commands.spec import UsageError
from chatcli.session.errors import InvalidTag, OperationRefused
from chatcli.session.fields import TAGS_MAX
from chatcli.session.models import utc_now
from chatcli.session.outcomes import DeleteResult, ListResult, PruneResult, SearchResult
from chatcli.session.service import SessionService
from tests.helpers import at, seed

Ctx = Callable[..., CommandContext]


class Asker:
    """A fake terminal: records the questions and gives a fixed answer."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.questions: list[str] = []

    def __call__(self, question: str) -> bool:
        self.questions.append(question)
        return self.answer


def test_pin_and_unpin_say_when_nothing_changes(
    registry: Registry, make_ctx: Ctx, service: SessionService
) -> None:
    meta = seed(service.repo, "hello", name="keep-me")
    pinned = registry.run(make_ctx(), ["sessions", "pin", "keep-me"])
    assert isinstance(pinned, SessionChanged) and pinned.metadata.pinned and not pinned.unchanged
    assert service.repo.get(meta.id).pinned
    again = registry.run(make_ctx(), ["sessions", "pin", meta.id[:6]])
    assert isinstance(again, SessionChanged) and again.unchanged
    unpinned = registry.run(make_ctx(), ["sessions", "unpin", "keep-me"])
    assert isinstance(unpinned, SessionChanged) and not unpinned.unchanged
    assert not service.repo.get(meta.id).pinned
    assert registry.run(make_ctx(), ["sessions", "unpin", "keep-me"]) == SessionChanged(
        "unpinned", service.repo.get(meta.id), unchanged=True
    )


def test_pin_in_the_chat_takes_the_session_in_use(registry: Registry, service: SessionService) -> None:
    meta = seed(service.repo, "hello")
    ctx = CommandContext(service, current_session_id=meta.id)
    registry.run(ctx, ["sessions", "pin"])
    assert service.repo.get(meta.id).pinned
    registry.run(ctx, ["sessions", "unpin", "."])
    assert not service.repo.get(meta.id).pinned
    with pytest.raises(UsageError, match="exists only inside the chat"):
        registry.run(CommandContext(service, prefix="chatcli "), ["sessions", "pin", "."])


def test_tag_untag_normalise_and_report(registry: Registry, make_ctx: Ctx, service: SessionService) -> None:
    meta = seed(service.repo, "hello", name="work")
    tagged = registry.run(make_ctx(), ["sessions", "tag", "work", "Bug", "ux", "bug"])
    assert isinstance(tagged, TagsChanged) and tagged.given == ("bug", "ux") and not tagged.unchanged
    assert service.repo.get(meta.id).tags == ["bug", "ux"]
    same = registry.run(make_ctx(), ["sessions", "tag", "work", "UX"])
    assert isinstance(same, TagsChanged) and same.unchanged
    untagged = registry.run(make_ctx(), ["sessions", "untag", "work", "BUG", "never-there"])
    assert isinstance(untagged, TagsChanged) and not untagged.unchanged
    assert service.repo.get(meta.id).tags == ["ux"]
    none = registry.run(make_ctx(), ["sessions", "untag", "work", "bug"])
    assert isinstance(none, TagsChanged) and none.unchanged


@pytest.mark.parametrize(
    ("tag", "why"),
    [
        ("-rf", "not a tag"),
        ("a/b", "not a tag"),
        ("café", "not a tag"),
        ("x" * 33, "33 characters long"),
        ("a,b", "not a tag"),
        ("\x1b[31m", "not a tag"),
    ],
)
def test_invalid_tags_change_nothing(
    registry: Registry, make_ctx: Ctx, service: SessionService, tag: str, why: str
) -> None:
    meta = seed(service.repo, "hello")
    before = service.repo.get(meta.id)
    with pytest.raises(InvalidTag) as info:
        registry.run(make_ctx(), ["sessions", "tag", meta.id, "ok", "--", tag])
    assert why in info.value.user_message() and "letters, digits" in info.value.user_message()
    assert "\x1b" not in info.value.user_message()
    assert service.repo.get(meta.id) == before


def test_a_session_holds_at_most_the_tag_limit(
    registry: Registry, make_ctx: Ctx, service: SessionService
) -> None:
    meta = seed(service.repo, "hello")
    registry.run(make_ctx(), ["sessions", "tag", meta.id, *(f"t{i}" for i in range(TAGS_MAX))])
    with pytest.raises(InvalidTag, match=f"the limit is {TAGS_MAX}"):
        registry.run(make_ctx(), ["sessions", "tag", meta.id, "one-more"])
    assert len(service.repo.get(meta.id).tags) == TAGS_MAX
    registry.run(make_ctx(), ["sessions", "tag", meta.id, "t0"])  # one it has: nothing to add, fine


def test_list_and_search_filter_by_every_tag(
    registry: Registry, make_ctx: Ctx, service: SessionService
) -> None:
    both = seed(service.repo, "docker both", when=at(1)).id
    bug = seed(service.repo, "docker bug only", when=at(2)).id
    plain = seed(service.repo, "docker plain", when=at(3)).id
    registry.run(make_ctx(), ["sessions", "tag", both, "bug", "ux"])
    registry.run(make_ctx(), ["sessions", "tag", bug, "bug"])
    listed = registry.run(make_ctx(), ["sessions", "list", "--tag", "BUG"])
    assert isinstance(listed, ListResult) and [m.id for m in listed.sessions] == [bug, both]
    assert listed.tags == ("bug",) and listed.total == 2
    listed = registry.run(make_ctx(), ["sessions", "list", "--tag", "bug", "-t", "ux"])
    assert isinstance(listed, ListResult) and [m.id for m in listed.sessions] == [both]
    found = registry.run(make_ctx(), ["sessions", "search", "docker", "--tag", "bug"])
    assert isinstance(found, SearchResult) and {h.session_id for h in found.hits} == {both, bug}
    found = registry.run(make_ctx(), ["sessions", "search", "docker", "--tag", "ux", "--tag", "bug"])
    assert isinstance(found, SearchResult) and {h.session_id for h in found.hits} == {both}
    assert plain not in {
        m.id for m in registry.run(make_ctx(), ["sessions", "list", "--tag", "bug"]).sessions
    }
    with pytest.raises(InvalidTag):
        registry.run(make_ctx(), ["sessions", "list", "--tag", "no/such"])


# --------------------------------------------------------------------------- pinned refusals


def test_deleting_a_pinned_session_asks_naming_it_pinned(
    registry: Registry, make_ctx: Ctx, service: SessionService
) -> None:
    meta = seed(service.repo, "hello", name="precious")
    service.set_pinned(meta.id, True)
    asker = Asker(False)
    assert isinstance(registry.run(make_ctx(confirm=asker), ["sessions", "delete", "precious"]), Cancelled)
    (question,) = asker.questions
    assert "PINNED" in question and "precious" in question
    assert service.repo.exists(meta.id)
    asker = Asker(True)
    assert isinstance(registry.run(make_ctx(confirm=asker), ["sessions", "delete", "precious"]), DeleteResult)
    assert not service.repo.exists(meta.id)


@pytest.mark.parametrize("confirm", [None, Asker(True)])
def test_yes_alone_never_deletes_a_pinned_session(
    registry: Registry, make_ctx: Ctx, service: SessionService, confirm: Asker | None
) -> None:
    meta = seed(service.repo, "hello")
    service.set_pinned(meta.id, True)
    with pytest.raises(OperationRefused) as info:
        registry.run(make_ctx(confirm=confirm, prefix="chatcli "), ["sessions", "delete", meta.id, "--yes"])
    text = info.value.user_message()
    assert "pinned" in text and f"chatcli sessions delete {meta.id} --force --yes" in text
    assert f"chatcli sessions unpin {meta.id}" in text
    assert service.repo.exists(meta.id)
    assert confirm is None or confirm.questions == []


def test_without_a_terminal_a_pinned_session_needs_force(
    registry: Registry, make_ctx: Ctx, service: SessionService
) -> None:
    meta = seed(service.repo, "hello")
    service.set_pinned(meta.id, True)
    with pytest.raises(OperationRefused, match="no terminal"):
        registry.run(make_ctx(confirm=None), ["sessions", "delete", meta.id])
    assert service.repo.exists(meta.id)
    result = registry.run(make_ctx(confirm=None), ["sessions", "delete", meta.id, "--force", "--yes"])
    assert isinstance(result, DeleteResult) and not service.repo.exists(meta.id)


def test_prune_never_deletes_a_pinned_session_and_says_so(
    registry: Registry, make_ctx: Ctx, service: SessionService
) -> None:
    old = utc_now() - timedelta(days=100)
    pinned = seed(service.repo, "pinned", when=old).id
    gone = seed(service.repo, "gone", when=old).id
    service.set_pinned(pinned, True)
    dry = registry.run(make_ctx(), ["sessions", "prune", "--older-than", "30d", "--dry-run"])
    assert isinstance(dry, PruneResult) and [m.id for m in dry.sessions] == [gone] and dry.pinned_kept == 1
    done = registry.run(make_ctx(), ["sessions", "prune", "--older-than", "30d", "--yes"])
    assert isinstance(done, PruneResult) and [m.id for m in done.sessions] == [gone]
    assert done.pinned_kept == 1
    assert service.repo.exists(pinned) and not service.repo.exists(gone)
    only_pinned = registry.run(make_ctx(), ["sessions", "prune", "--older-than", "30d", "--yes"])
    assert (
        isinstance(only_pinned, PruneResult) and only_pinned.sessions == [] and only_pinned.pinned_kept == 1
    )


def test_a_session_pinned_while_a_prune_runs_is_kept(service: SessionService) -> None:
    meta = seed(service.repo, "old", when=utc_now() - timedelta(days=100))
    candidates = service.prune_candidates(timedelta(days=30))
    service.set_pinned(meta.id, True)  # another process pins it after the confirmation
    result = service.prune(candidates)
    assert result.sessions == [] and result.failures == [
        (meta.id, "it was pinned since the prune started; kept")
    ]
    assert service.repo.exists(meta.id)
