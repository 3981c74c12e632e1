"""The sync engine over a real Delta table and the real emulator: statuses go out per job in
execution order, a failure holds back that job's later statuses, failed rows back off, and a
row turns YES only when AutoSys accepted it."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from jobops_dagster.autosys import fake_sendevent
from jobops_dagster.autosys.client import AutoSysConfigurationError
from jobops_dagster.autosys.emulator import AutoSysEmulator, Faults
from jobops_dagster.autosys.rest import RestAutoSysClient
from jobops_dagster.autosys.sendevent import SendeventAutoSysClient, SendeventSettings
from jobops_dagster.autosys.sync import SyncSettings, run_sync
from jobops_dagster.job_status.table import JobStatusTable
from jobops_dagster_tests.autosys.conftest import MakeClient, StartEmulator
from jobops_dagster_tests.autosys.support import (
    applied_event_ids,
    backlog,
    completion,
    event_id_of,
    flags,
    insert,
    rows_by_event,
)

NO_WAIT = SyncSettings(concurrency=4, backoff_base=dt.timedelta(0), backoff_cap=dt.timedelta(0))
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def at(moment: dt.datetime) -> Callable[[], dt.datetime]:
    """A clock stopped at `moment`, so backoff times can be asserted exactly."""
    return lambda: moment


def test_run_sync_backlog_every_row_yes_with_applied_event(
    table: JobStatusTable, emulator: AutoSysEmulator, rest_client: RestAutoSysClient
) -> None:
    insert(table, backlog(jobs=6, per_job=4))

    report = run_sync(table=table, client=rest_client, settings=NO_WAIT)

    assert (report.pending_before, report.sent, report.accepted, report.still_pending) == (
        24, 24, 24, 0)
    assert report.table_version is not None
    assert flags(table) == {"YES": 24}
    assert set(applied_event_ids(emulator)) == set(rows_by_event(table))
    assert emulator.final_statuses()["JOB_000"] == "SUCCESS"  # minute 3 is the last, a success


def test_run_sync_same_job_statuses_sent_in_execution_order(
    table: JobStatusTable, emulator: AutoSysEmulator, rest_client: RestAutoSysClient
) -> None:
    rows = backlog(jobs=5, per_job=6)
    random.Random(3).shuffle(rows)
    for start in range(0, len(rows), 10):  # several commits, so files hold mixed orders
        insert(table, rows[start:start + 10])

    run_sync(table=table, client=rest_client, settings=NO_WAIT)

    executed = {row.event_id: row.executed_at for row in rows}
    by_job: dict[str, list[dt.datetime]] = {}
    for event in emulator.events():
        by_job.setdefault(event.job_name or "", []).append(executed[event_id_of(event.comment)])
    assert len(by_job) == 5
    for job, times in by_job.items():
        assert times == sorted(times), job


def test_run_sync_earlier_failure_holds_back_later_statuses(
    table: JobStatusTable, start_emulator: StartEmulator, make_client: MakeClient
) -> None:
    emulator = start_emulator(Faults(fail_next=1))
    insert(table, [completion("ORDERED", minute) for minute in range(3)])
    client = make_client(emulator)
    one_at_a_time = SyncSettings(concurrency=1, backoff_base=dt.timedelta(0),
                                 backoff_cap=dt.timedelta(0))

    first = run_sync(table=table, client=client, settings=one_at_a_time)

    assert (first.sent, first.accepted, first.failed_transient, first.waiting) == (1, 0, 1, 2)
    assert flags(table) == {"NO": 3}
    second = run_sync(table=table, client=client, settings=one_at_a_time)
    assert (second.sent, second.accepted) == (3, 3)
    sent_order = [event_id_of(event.comment) for event in emulator.events()]
    expected = [completion("ORDERED", minute).event_id for minute in range(3)]
    assert sent_order == [expected[0], *expected]


def test_run_sync_failed_row_waits_for_backoff_and_blocks_newer_rows(
    table: JobStatusTable, start_emulator: StartEmulator, make_client: MakeClient
) -> None:
    emulator = start_emulator(Faults(fail_next=1))
    client = make_client(emulator)
    settings = SyncSettings(backoff_base=dt.timedelta(minutes=1), backoff_cap=dt.timedelta(hours=1))
    insert(table, [completion("BACKOFF", 0)])

    run_sync(table=table, client=client, settings=settings, clock=at(T0))
    row = rows_by_event(table)[completion("BACKOFF", 0).event_id]
    assert row["attempts"] == 1
    assert row["next_attempt_at"] == T0 + dt.timedelta(minutes=1)
    assert str(row["last_error"]).startswith("transient: POST")

    insert(table, [completion("BACKOFF", 5)])
    early = run_sync(table=table, client=client, settings=settings,
                     clock=at(T0 + dt.timedelta(seconds=30)))
    assert (early.sent, early.not_due) == (0, 2)

    due = run_sync(table=table, client=client, settings=settings,
                   clock=at(T0 + dt.timedelta(seconds=61)))
    assert (due.sent, due.accepted) == (2, 2)
    assert flags(table) == {"YES": 2}


def test_run_sync_429_waits_at_least_retry_after(
    table: JobStatusTable, start_emulator: StartEmulator, make_client: MakeClient
) -> None:
    emulator = start_emulator(Faults(throttle_rate=1.0, retry_after_s=120))
    settings = SyncSettings(backoff_base=dt.timedelta(seconds=1))
    insert(table, [completion("THROTTLED", 0)])

    run_sync(table=table, client=make_client(emulator), settings=settings, clock=at(T0))

    [row] = rows_by_event(table).values()
    assert row["next_attempt_at"] == T0 + dt.timedelta(seconds=120)


def test_run_sync_unknown_job_is_permanent_and_others_proceed(
    table: JobStatusTable, start_emulator: StartEmulator, make_client: MakeClient
) -> None:
    emulator = start_emulator(Faults(unknown_jobs=frozenset({"JOB_001"})))
    settings = SyncSettings(backoff_cap=dt.timedelta(hours=6))
    insert(table, backlog(jobs=3, per_job=2))

    report = run_sync(table=table, client=make_client(emulator), settings=settings, clock=at(T0))

    assert (report.accepted, report.failed_permanent, report.waiting) == (4, 1, 1)
    failed = [row for row in rows_by_event(table).values() if row["attempts"] == 1
              and row["autosys_update_flag"] == "NO"]
    assert [row["job_name"] for row in failed] == ["JOB_001"]
    assert str(failed[0]["last_error"]).startswith("permanent: ")
    assert failed[0]["next_attempt_at"] == T0 + dt.timedelta(hours=6)


def test_run_sync_invalid_job_name_fails_before_any_call(
    table: JobStatusTable, emulator: AutoSysEmulator, rest_client: RestAutoSysClient
) -> None:
    insert(table, [completion("bad name!", 0)])

    report = run_sync(table=table, client=rest_client, settings=NO_WAIT)

    assert (report.sent, report.failed_permanent) == (0, 1)
    assert emulator.events() == []


def test_run_sync_wrong_password_raises_and_changes_nothing(
    table: JobStatusTable, emulator: AutoSysEmulator, make_client: MakeClient
) -> None:
    insert(table, backlog(jobs=4, per_job=2))
    before = table.read().sort_by("event_id")

    with pytest.raises(AutoSysConfigurationError, match="refused the credentials"):
        run_sync(table=table, client=make_client(emulator, password="wrong"), settings=NO_WAIT)

    assert table.read().sort_by("event_id").equals(before)


def test_run_sync_row_appended_before_commit_stays_no(
    table: JobStatusTable, emulator: AutoSysEmulator, rest_client: RestAutoSysClient
) -> None:
    """The old updater flipped every row of a job id at once and lost rows that arrived while
    it ran. Here a new completion of a job being synced lands between the sends and the
    commit."""
    insert(table, [completion("RACE", 0), completion("RACE", 1)])
    late = completion("RACE", 2)

    run_sync(table=table, client=rest_client, settings=NO_WAIT,
             before_commit=lambda _rows: insert(table, [late]))

    rows = rows_by_event(table)
    assert rows[late.event_id]["autosys_update_flag"] == "NO"
    assert rows[late.event_id]["attempts"] == 0
    assert flags(table) == {"YES": 2, "NO": 1}


def test_run_sync_small_chunks_give_the_same_result(
    table: JobStatusTable, emulator: AutoSysEmulator, rest_client: RestAutoSysClient
) -> None:
    insert(table, backlog(jobs=7, per_job=5))
    chunked = SyncSettings(concurrency=3, batch_rows=4, backoff_base=dt.timedelta(0),
                           backoff_cap=dt.timedelta(0))

    report = run_sync(table=table, client=rest_client, settings=chunked)

    assert (report.pending_before, report.accepted) == (35, 35)
    assert flags(table) == {"YES": 35}


def test_run_sync_sendevent_backend_queues_every_row(
    table: JobStatusTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real sendevent binary cannot exist here; the fake records argument lists."""
    log_path = tmp_path / "sendevent.jsonl"
    monkeypatch.setenv("FAKE_SENDEVENT_LOG", str(log_path))
    client = SendeventAutoSysClient(
        SendeventSettings(executable=str(fake_sendevent.install(tmp_path)))
    )
    insert(table, backlog(jobs=2, per_job=2))

    report = run_sync(table=table, client=client, settings=NO_WAIT)

    assert report.accepted == 4
    calls = fake_sendevent.read_log(log_path)
    assert sorted(call[call.index("-C") + 1] for call in calls) == sorted(
        f"jobops event_id={event_id}" for event_id in rows_by_event(table)
    )


def test_run_sync_row_cap_sends_oldest_jobs_first_and_defers_the_rest(
    table: JobStatusTable, emulator: AutoSysEmulator, rest_client: RestAutoSysClient
) -> None:
    # "Z_OLD" sorts last by name but has the earliest execution, so it must go first.
    insert(table, [completion("Z_OLD", 0), completion("Z_OLD", 1), completion("A_NEW", 30),
                   completion("M_MID", 10)])
    capped = SyncSettings(concurrency=1, max_rows_per_run=2)

    first = run_sync(table=table, client=rest_client, settings=capped)

    assert (first.accepted, first.deferred, first.still_pending) == (2, 2, 2)
    assert {event.job_name for event in emulator.events()} == {"Z_OLD"}
    second = run_sync(table=table, client=rest_client, settings=capped)
    assert (second.accepted, second.deferred) == (2, 0)
    assert [event.job_name for event in emulator.events()][2:] == ["M_MID", "A_NEW"]


@pytest.mark.parametrize("concurrency", [1, 3])
def test_run_sync_concurrent_requests_never_exceed_the_bound(
    table: JobStatusTable, start_emulator: StartEmulator, make_client: MakeClient,
    concurrency: int,
) -> None:
    emulator = start_emulator(Faults(latency_s=0.02))
    insert(table, backlog(jobs=8, per_job=2))
    settings = SyncSettings(concurrency=concurrency)

    report = run_sync(table=table, client=make_client(emulator), settings=settings)

    assert report.accepted == 16
    assert emulator.max_in_flight == concurrency
