"""The hot-answer cache: an answer it serves is what a fresh read would return."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from projections.hot import ReadCache

MODEL = "account_balance"


def warm() -> ReadCache:
    cache = ReadCache()
    cache.reset({MODEL: 10})
    return cache


def test_a_cold_cache_keeps_nothing_until_the_listener_has_reset_it() -> None:
    cache = ReadCache()
    cache.put("anna", MODEL, "v", 10, {"payer_id=anna"})
    assert cache.get("anna") is None


def test_an_answer_is_served_as_of_the_newest_position_announced() -> None:
    cache = warm()
    cache.put("anna", MODEL, "v", 10, {"payer_id=anna"})
    cache.changed({MODEL: 15}, {"payer_id=boris"})
    assert cache.get("anna") == ("v", 15)
    assert cache.get("anna", min_position=15) == ("v", 15)
    assert cache.get("anna", min_position=16) is None  # not there yet: the caller waits


def test_a_batch_writing_a_key_drops_the_answers_that_depend_on_it() -> None:
    cache = warm()
    cache.put("anna", MODEL, "v", 10, {"payer_id=anna", "account_id=a1"})
    cache.changed({MODEL: 12}, {"account_id=a1"})
    assert cache.get("anna") is None


def test_an_answer_read_after_the_change_it_shows_survives_that_change() -> None:
    cache = warm()
    cache.put("anna", MODEL, "v", 12, {"payer_id=anna"})
    cache.changed({MODEL: 12}, {"payer_id=anna"})
    assert cache.get("anna") == ("v", 12)


def test_an_answer_from_a_snapshot_older_than_an_announced_change_is_not_kept() -> None:
    cache = warm()
    cache.changed({MODEL: 12}, {"payer_id=anna"})  # announced while the read was in flight
    cache.put("anna", MODEL, "stale", 11, {"payer_id=anna"})
    assert cache.get("anna") is None


def test_a_batch_too_large_to_list_its_keys_empties_the_cache() -> None:
    cache = warm()
    cache.put("anna", MODEL, "v", 10, {"payer_id=anna"})
    cache.changed({MODEL: 5000}, None)
    assert cache.get("anna") is None
    cache.put("anna", MODEL, "older", 4000, {"payer_id=anna"})
    assert cache.get("anna") is None


def test_a_reset_forgets_everything() -> None:
    cache = warm()
    cache.put("anna", MODEL, "v", 10, {"payer_id=anna"})
    cache.reset({MODEL: 20})
    assert cache.get("anna") is None


# A model of the read side: each payer's value changes at some positions; a read at position p
# returns the value as of p. Any interleaving of batches announced and reads put must never
# make the cache serve a value other than the fresh one at the position it claims.
payers = st.sampled_from(["anna", "boris", "vera"])
steps = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.sets(payers, min_size=1)),
        st.tuples(st.just("read"), payers, st.integers(0, 3)),  # a snapshot up to 3 batches old
        st.tuples(st.just("get"), payers),
    ),
    max_size=60,
)


@given(steps)
def test_the_cache_never_serves_a_value_a_fresh_read_would_not(plan: list[tuple]) -> None:  # type: ignore[type-arg]
    history: dict[str, list[tuple[int, int]]] = {p: [(0, 0)] for p in ["anna", "boris", "vera"]}
    position, announced = 0, 0
    cache = ReadCache()
    cache.reset({MODEL: 0})

    def fresh(payer: str, at: int) -> int:
        return max(v for pos, v in history[payer] if pos <= at) if at >= 0 else 0

    for step in plan:
        if step[0] == "write":
            position += 1
            for payer in step[1]:
                history[payer].append((position, position * 10))
            cache.changed({MODEL: position}, {f"payer_id={p}" for p in step[1]})
            announced = position
        elif step[0] == "read":
            payer, age = step[1], step[2]
            at = max(0, announced - age)
            cache.put(payer, MODEL, fresh(payer, at), at, {f"payer_id={payer}"})
        else:
            hit = cache.get(step[1])
            if hit is not None:
                value, as_of = hit
                assert as_of <= announced
                assert value == fresh(step[1], as_of)


def test_an_answer_older_than_what_the_process_observed_is_not_served() -> None:
    # The watcher re-reads the tracking table when a notification is late: it then knows the
    # model moved, but not which keys, so a cached answer older than that must not be served.
    observed = {"payment_history": 10}
    cache = ReadCache(observed=lambda model: observed[model])
    cache.reset({"payment_history": 10})
    cache.put("page", "payment_history", "page at 10", 10, {"payer_id=anna"})
    assert cache.get("page") == ("page at 10", 10)
    observed["payment_history"] = 12  # learnt from the tracking table, no notification yet
    assert cache.get("page") is None
    cache.changed({"payment_history": 12}, ["payer_id=boris"])  # the late notification
    assert cache.get("page") == ("page at 10", 12)  # anna's page did not change: served again
