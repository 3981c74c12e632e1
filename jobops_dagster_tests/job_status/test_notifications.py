"""The notification file format: what is accepted, what is rejected and why, and how files
move through the folder. Every case uses real files on disk."""

import datetime as dt
import os
from pathlib import Path

import pytest

from jobops_dagster.job_status.notification_format import InvalidNotification, parse_notification
from jobops_dagster.job_status.notifications import MAX_FILE_BYTES, NotificationFolder
from jobops_dagster.job_status.schema import Source, Status
from jobops_dagster_tests.job_status.support import NOW, as_json, drop, drop_raw

VALID = {
    "version": 1,
    "job_name": "PAYROLL.load_daily",
    "file_name": "payroll.csv",
    "status": "success",
    "executed_at": "2026-12-03T08:45:00Z",
}


def test_parse_notification_valid_file_gives_completion_in_utc() -> None:
    body = dict(VALID, executed_at="2026-12-03T09:45:00+01:00", status="FAILURE", vm="vm2")
    completion = parse_notification(as_json(body), now=NOW)
    assert completion.executed_at == dt.datetime(2026, 12, 3, 8, 45, tzinfo=dt.UTC)
    assert completion.status is Status.FAILURE
    assert completion.vm == "vm2"
    assert completion.source is Source.NOTIFICATION_FILE
    assert completion.execution_date == "2026-12-03"


def test_parse_notification_same_report_twice_gives_same_event_id() -> None:
    first = parse_notification(as_json(VALID), now=NOW)
    again = parse_notification(as_json(dict(VALID, vm="vm9")), now=NOW)
    later = parse_notification(as_json(dict(VALID, executed_at="2026-12-03T08:46:00Z")), now=NOW)
    assert first.event_id == again.event_id
    assert first.event_id != later.event_id


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"  \n", "empty"),
        (b"[1, 2]", "expected a JSON object"),
        (as_json(dict(VALID, version=2)), "'version' is 2"),
        (as_json({k: v for k, v in VALID.items() if k != "version"}), "'version' is None"),
        (as_json(dict(VALID, job_name=42)), "'job_name' is int"),
        (as_json(dict(VALID, executed_at=1733215500)), "'executed_at' is int"),
        (as_json(dict(VALID, file_name=["a"])), "'file_name' is list"),
        (as_json(dict(VALID, status="done")), "'status' is 'done'"),
        (as_json({k: v for k, v in VALID.items() if k != "job_name"}), "'job_name' is missing"),
        (as_json(dict(VALID, job_name="J" * 65)), "not a valid AutoSys job name"),
        (as_json(dict(VALID, job_name="PAY ROLL")), "not a valid AutoSys job name"),
        (as_json(dict(VALID, job_name="PAYROLL;rm")), "not a valid AutoSys job name"),
        (as_json(dict(VALID, executed_at="2026-12-03T08:45:00")), "has no time zone"),
        (as_json(dict(VALID, executed_at="yesterday")), "not an ISO 8601 timestamp"),
        (as_json(dict(VALID, executed_at="2099-01-01T00:00:00Z")), "in the future"),
        (b'{"version": 1, "job_name": "\xff\xfe"}', "not UTF-8"),
    ],
)
def test_parse_notification_bad_input_raises_with_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidNotification, match=reason.replace("(", r"\(")):
        parse_notification(raw, now=NOW)


def test_parse_notification_64_character_job_name_is_accepted() -> None:
    name = "A" * 60 + "_.#-"
    assert parse_notification(as_json(dict(VALID, job_name=name)), now=NOW).job_name == name


def test_folder_read_rejects_entries_that_are_not_small_regular_files(
    folder: NotificationFolder, tmp_path: Path
) -> None:
    target = drop(folder, "real.json")
    (folder.root / "link.json").symlink_to(target)
    (folder.root / "x.json").mkdir()
    drop_raw(folder, "huge.json", b" " * (MAX_FILE_BYTES + 1))

    good, bad = folder.read(folder.ready(now=dt.datetime.now(dt.UTC)), now=NOW)

    assert [n.path.name for n in good] == ["real.json"]
    reasons = {r.path.name: r.reason for r in bad}
    assert "symbolic link" in reasons["link.json"]
    assert "not a regular file" in reasons["x.json"]
    assert "over the 1048576-byte limit" in reasons["huge.json"]


def test_folder_names_with_spaces_and_non_ascii_are_read_and_archived(
    folder: NotificationFolder,
) -> None:
    for name in ("with space.json", "zürich-załadunek.json"):
        drop(folder, name)
    good, bad = folder.read(folder.ready(now=dt.datetime.now(dt.UTC)), now=NOW)
    assert not bad
    for notification in good:
        archived = folder.archive(notification)
        assert archived is not None and archived.exists()
    assert sorted(p.name for p in folder.archived(good[0].completion.execution_date)) == [
        "with space.json",
        "zürich-załadunek.json",
    ]


def test_folder_ready_skips_young_and_hidden_files(tmp_path: Path) -> None:
    folder = NotificationFolder(tmp_path / "n", min_age=dt.timedelta(seconds=60))
    young = drop(folder, "young.json")
    old = drop(folder, "old.json")
    stamp = old.stat().st_mtime - 120
    os.utime(old, (stamp, stamp))
    (folder.root / ".old.json.123.tmp").write_text("{half", encoding="utf-8")
    assert folder.ready(now=dt.datetime.now(dt.UTC)) == [old]
    assert young.exists()


def test_folder_write_leaves_no_temporary_file(folder: NotificationFolder) -> None:
    drop(folder, "a.json")
    assert sorted(p.name for p in folder.root.iterdir()) == ["a.json"]


def test_folder_reject_moves_file_and_writes_reason(folder: NotificationFolder) -> None:
    drop_raw(folder, "bad.json", b"{")
    _, bad = folder.read(folder.ready(now=dt.datetime.now(dt.UTC)), now=NOW)
    moved = folder.reject(bad[0])
    assert moved == folder.root / "rejected" / "bad.json"
    reason = (folder.root / "rejected" / "bad.json.reason.txt").read_text(encoding="utf-8")
    assert "not valid JSON" in reason
    assert not (folder.root / "bad.json").exists()
