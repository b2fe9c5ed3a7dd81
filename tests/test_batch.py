"""Batch processing: input expansion, output naming and mirroring, skip/overwrite, failures, interrupts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from restore_cli import io
from restore_cli.batch import FAILED, OK, PENDING, SKIPPED, expand_inputs, plan_outputs, run, run_batch
from restore_cli.errors import BadImageError, UsageError


def make_png(path: Path, value: int = 100, size: tuple[int, int] = (6, 5)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((size[1], size[0], 3), value / 255, np.float32)
    pixels[0, 0] = 1.0
    io.write_image(io.Image(pixels=pixels), path)
    return path


def invert(image: io.Image) -> io.Image:
    return dataclasses.replace(image, pixels=1.0 - image.pixels)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "scans"
    make_png(root / "b.png")
    make_png(root / "a.png")
    make_png(root / "sub" / "c.png")
    make_png(root / ".hidden.png")
    (root / "notes.txt").write_text("not an image")
    return root


def names(items) -> list[str]:
    return [item.path.name for item in items]


def test_expand_folder_sorted_images_only(tree):
    items = expand_inputs([str(tree)])
    assert names(items) == ["a.png", "b.png"]
    assert all(item.base == tree and item.error is None for item in items)
    deep = expand_inputs([str(tree)], recursive=True)
    assert [i.relative.as_posix() for i in deep] == ["a.png", "b.png", "sub/c.png"]


def test_expand_files_globs_missing_and_duplicates(tree, tmp_path):
    missing = tmp_path / "nope.jpg"
    items = expand_inputs([str(tree / "b.png"), str(missing), str(tree / "*.png"), str(tree / "b.png")])
    assert names(items) == ["b.png", "nope.jpg", "a.png"]
    assert items[0].explicit and items[0].base is None
    assert items[1].error is not None and "does not exist" in str(items[1].error)
    assert items[2].base == tree
    nothing = expand_inputs([str(tmp_path / "*.webp")])
    assert len(nothing) == 1 and "no image files match" in str(nothing[0].error)
    recursive_glob = expand_inputs([str(tree / "**" / "*.png")], recursive=True)
    assert sorted(i.relative.as_posix() for i in recursive_glob) == ["a.png", "b.png", "sub/c.png"]


def test_default_naming_beside_input(tree):
    jobs = plan_outputs(expand_inputs([str(tree / "a.png")]), suffix="_deblurred", fmt="png")
    assert jobs[0].output == tree / "a_deblurred.png" and jobs[0].status == PENDING
    jobs = plan_outputs(expand_inputs([str(tree / "a.png")]), suffix="_x", fmt="jpg")
    assert jobs[0].output == tree / "a_x.jpg"
    jobs = plan_outputs(expand_inputs([str(tree / "a.png")]), suffix="_x", fmt="same")
    assert jobs[0].output == tree / "a_x.png"


def test_output_file_for_one_input_folder_otherwise(tree, tmp_path):
    one = expand_inputs([str(tree / "a.png")])
    assert plan_outputs(one, output=str(tmp_path / "result.webp"))[0].output == tmp_path / "result.webp"
    out_dir = tmp_path / "out"
    assert plan_outputs(one, output=str(out_dir) + "/")[0].output == out_dir / "a_deblurred.png"
    out_dir.mkdir()
    assert plan_outputs(one, output=str(out_dir))[0].output == out_dir / "a_deblurred.png"
    with pytest.raises(UsageError, match="cannot write"):
        plan_outputs(one, output=str(tmp_path / "result.xyz"))


def test_folder_tree_is_mirrored(tree, tmp_path):
    jobs = plan_outputs(expand_inputs([str(tree)], recursive=True), output=str(tmp_path / "restored"))
    outputs = sorted(j.output.relative_to(tmp_path / "restored").as_posix() for j in jobs)
    assert outputs == ["a_deblurred.png", "b_deblurred.png", "sub/c_deblurred.png"]


def test_output_equal_to_input_is_refused_even_with_overwrite(tree):
    items = expand_inputs([str(tree / "a.png")])
    with pytest.raises(UsageError, match="never"):
        plan_outputs(items, suffix="", fmt="same", overwrite=True)
    with pytest.raises(UsageError, match="never"):
        plan_outputs(items, output=str(tree / "a.png"), overwrite=True)


def test_two_inputs_one_output_is_an_error(tmp_path):
    make_png(tmp_path / "x" / "p.png")
    make_png(tmp_path / "y" / "p.png")
    items = expand_inputs([str(tmp_path / "x"), str(tmp_path / "y")])
    with pytest.raises(UsageError, match="both"):
        plan_outputs(items, output=str(tmp_path / "out"))
    make_png(tmp_path / "z" / "q.png")
    jpg_path = tmp_path / "z" / "q.jpg"
    io.write_image(io.Image(pixels=np.zeros((4, 4, 3), np.float32)), jpg_path)
    with pytest.raises(UsageError, match="both"):
        plan_outputs(expand_inputs([str(tmp_path / "z")]))


def test_existing_outputs_fail_skip_or_overwrite(tree):
    make_png(tree / "a_deblurred.png")
    items = expand_inputs([str(tree / "a.png")])
    assert plan_outputs(items)[0].status == FAILED
    assert "--overwrite" in plan_outputs(items)[0].message
    assert plan_outputs(items, skip_existing=True)[0].status == SKIPPED
    assert plan_outputs(items, overwrite=True)[0].status == PENDING
    with pytest.raises(UsageError):
        plan_outputs(items, overwrite=True, skip_existing=True)
    with pytest.raises(UsageError):
        plan_outputs(items, fmt="gif")


def test_folder_run_skips_its_own_earlier_outputs(tree):
    """Re-running on a folder that holds x_deblurred.png must not make x_deblurred_deblurred.png."""
    make_png(tree / "a_deblurred.png")
    jobs = plan_outputs(expand_inputs([str(tree)]), suffix="_deblurred", skip_existing=True)
    by_name = {job.input.name: job for job in jobs}
    assert by_name["a_deblurred.png"].status == SKIPPED and by_name["a_deblurred.png"].output is None
    assert "earlier output" in by_name["a_deblurred.png"].message
    assert by_name["a.png"].status == SKIPPED and by_name["b.png"].status == PENDING  # a's output exists
    # Another command's suffix, or the file named directly, is processed as usual.
    other = plan_outputs(expand_inputs([str(tree)]), suffix="_colorized")
    assert all(job.status == PENDING for job in other)
    named = plan_outputs(expand_inputs([str(tree / "a_deblurred.png")]), suffix="_deblurred")
    assert named[0].status == PENDING and named[0].output == tree / "a_deblurred_deblurred.png"


def test_batch_continues_past_bad_file(tmp_path):
    good1, good2 = make_png(tmp_path / "1.png", 10), make_png(tmp_path / "3.png", 30)
    bad = tmp_path / "2.jpg"
    bad.write_bytes(b"definitely not a jpeg")
    items = expand_inputs([str(tmp_path)])
    jobs = plan_outputs(items, output=str(tmp_path / "out"), suffix="_inv")
    before = {p: p.read_bytes() for p in (good1, good2, bad)}
    seen = []
    session = run(jobs, invert)
    for record in session:  # each record comes as soon as its image is done: written before the next starts
        seen.append(record)
        if record.status == OK:
            assert Path(record.output).exists()
    result = session.result
    assert [r.status for r in result.records] == [OK, FAILED, OK]
    assert seen == result.records and result.exit_code == 1 and not result.interrupted
    assert "2.jpg" in result.records[1].message
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["1_inv.png", "3_inv.png"]
    written = io.read_image(tmp_path / "out" / "1_inv.png")
    np.testing.assert_allclose(written.pixels[1, 1], 1 - 10 / 255, atol=1 / 255)
    assert result.records[0].size == [6, 5] and result.records[0].seconds >= 0
    assert {p: p.read_bytes() for p in before} == before  # inputs untouched
    json.dumps([r.to_dict() for r in result.records])
    json.dumps(result.to_dict())


def test_planned_failures_and_skips_become_records(tmp_path):
    make_png(tmp_path / "a.png")
    make_png(tmp_path / "a_deblurred.png")
    items = expand_inputs([str(tmp_path / "a.png"), str(tmp_path / "missing.png")])
    jobs = plan_outputs(items, skip_existing=True)
    result = run_batch(jobs, invert)
    assert [r.status for r in result.records] == [SKIPPED, FAILED]
    assert "does not exist" in result.records[1].message and result.records[1].output is None


def test_unexpected_error_in_one_image_does_not_stop_others(tmp_path):
    make_png(tmp_path / "a.png", 1)
    make_png(tmp_path / "b.png", 2)

    def flaky(image):
        if image.path.name == "a.png":
            raise RuntimeError("kaboom\nsecond line")
        return invert(image)

    result = run_batch(plan_outputs(expand_inputs([str(tmp_path)])), flaky)
    assert [r.status for r in result.records] == [FAILED, OK]
    assert "kaboom second line" in result.records[0].message and "\n" not in result.records[0].message
    assert not (tmp_path / "a_deblurred.png").exists() and (tmp_path / "b_deblurred.png").exists()


def test_interrupt_leaves_no_partial_file_and_resume_completes(tmp_path):
    for i in range(3):
        make_png(tmp_path / "in" / f"{i}.png", 50 + i)
    out = tmp_path / "out"

    def interrupt_second(image):
        if image.path.name == "1.png":
            raise KeyboardInterrupt
        return invert(image)

    jobs = plan_outputs(expand_inputs([str(tmp_path / "in")]), output=str(out))
    result = run_batch(jobs, interrupt_second)
    assert result.interrupted and result.exit_code == 130  # the CLI exits with this (128 + SIGINT)
    assert [r.status for r in result.records] == [OK, FAILED]
    assert "--skip-existing" in result.records[1].message
    assert sorted(p.name for p in out.iterdir()) == ["0_deblurred.png"]  # no temp or partial files

    jobs = plan_outputs(expand_inputs([str(tmp_path / "in")]), output=str(out), skip_existing=True)
    result = run_batch(jobs, invert)
    assert [r.status for r in result.records] == [SKIPPED, OK, OK] and result.exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == [f"{i}_deblurred.png" for i in range(3)]


def test_result_counts_and_exit_code_are_the_contract(tmp_path):
    """The CLI reports BatchResult's counts and exits with its exit_code: 0, 1, or 130 when interrupted."""
    make_png(tmp_path / "a.png")
    make_png(tmp_path / "b.png")
    make_png(tmp_path / "b_deblurred.png")
    jobs = plan_outputs(expand_inputs([str(tmp_path / "a.png"), str(tmp_path / "b.png")]), skip_existing=True)
    done = run_batch(jobs, invert)
    assert (done.ok, done.skipped, done.failed, done.interrupted, done.exit_code) == (1, 1, 0, False, 0)

    def broken(image):
        raise BadImageError("cannot decode", image.path)

    (tmp_path / "a_deblurred.png").unlink()
    jobs = plan_outputs(expand_inputs([str(tmp_path / "a.png")]))
    failed = run_batch(jobs, broken)
    assert (failed.ok, failed.failed, failed.exit_code) == (0, 1, 1)
    assert isinstance(failed.records[0].exception, BadImageError)  # declared field: --debug tracebacks
    assert "exception" not in failed.records[0].to_dict()


def test_interrupt_while_a_record_is_shown_still_returns_the_result(tmp_path):
    """Ctrl-C while the caller shows a record (the CLI printing): the run stops there, with a result."""
    for i in range(3):
        make_png(tmp_path / f"{i}.png", 10 + i)
    seen = []
    session = run(plan_outputs(expand_inputs([str(tmp_path)])), invert)
    try:
        for record in session:
            seen.append(record)
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        session.interrupt()
    result = session.result
    assert result.interrupted and result.exit_code == 130
    assert seen == result.records and [r.status for r in result.records] == [OK]
    assert result.failed == 0 and result.ok == 1
    assert sorted(p.name for p in tmp_path.glob("*_deblurred.png")) == ["0_deblurred.png"]  # no more started


def test_overwrite_replaces_existing_output(tmp_path):
    make_png(tmp_path / "a.png", 10)
    make_png(tmp_path / "a_deblurred.png", 200)
    jobs = plan_outputs(expand_inputs([str(tmp_path / "a.png")]), overwrite=True)
    result = run_batch(jobs, invert, write_kwargs={"overwrite": True})
    assert result.records[0].status == OK
    np.testing.assert_allclose(
        io.read_image(tmp_path / "a_deblurred.png").pixels[2, 2], 1 - 10 / 255, atol=1 / 255
    )


def test_non_ascii_paths(tmp_path):
    make_png(tmp_path / "фото été" / "снимок.png")
    jobs = plan_outputs(expand_inputs([str(tmp_path / "фото été")]), suffix="_восст")
    result = run_batch(jobs, invert)
    assert result.records[0].status == OK
    assert (tmp_path / "фото été" / "снимок_восст.png").exists()
    json.dumps(result.records[0].to_dict(), ensure_ascii=False)


@pytest.mark.parametrize("error", [BadImageError("cannot restore this one"), ValueError("a bug")])
def test_a_failed_record_keeps_its_traceback_as_text_not_the_images_memory(error: Exception) -> None:
    """A batch with many failures must not keep every failed image alive through tracebacks."""
    import gc
    import weakref

    from restore_cli.batch import run_one

    alive: list[weakref.ref] = []

    def process(image):
        pixels = np.zeros((64, 64, 3), dtype=np.float32)  # what a failing step holds in its frame
        alive.append(weakref.ref(pixels))
        try:
            raise KeyError("inner")
        except KeyError:
            raise error from None  # chained: its context holds a traceback too

    record, finished = run_one(
        "a.png", "b.png", read=lambda: io.from_array(np.zeros((4, 4, 3), np.uint8)),
        check=lambda image: None, process=process, write=lambda image: None,
    )  # fmt: skip
    gc.collect()
    assert finished and record.status == FAILED
    assert alive[0]() is None
    assert "raise error" in record.traceback and record.exception is error
    assert error.__traceback__ is None and error.__context__.__traceback__ is None
