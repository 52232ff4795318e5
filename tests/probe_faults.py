"""Replays the fault probes of a careless student and a hurried instructor; prints case → exit code → message.

Each case runs the real command line (``python -m prunekit``) or papermill in a fresh
temporary workspace on the shipped MNIST sample, then checks that nothing outside the
workspace's named folders changed and that no traceback was printed. The last column
says whether the case behaved as it should (``ok``) or not (``FAIL``); the script exits 1
if any case failed.

Usage::

    .venv/bin/python tests/probe_faults.py            # about 3 minutes on 2 cores
    .venv/bin/python tests/probe_faults.py --only expid
"""

from __future__ import annotations

import argparse
import gzip
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "mnist-sample"
TINY = ["--train-limit", "200", "--test-limit", "100", "--post-epochs", "1", "--quiet"]
FC = ["--model-class", "default", "--model", "fc", "--dataset", "mnist", "--experiment", "singleshot"]


@dataclass
class Outcome:
    case: str
    code: int
    first_line: str
    ok: bool
    note: str = ""


def _prunekit(args: list[str], cwd: Path, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prunekit", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def _first_line(process: subprocess.CompletedProcess) -> str:
    lines = [line for line in (process.stderr + process.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith(("error", "prunekit:")) or "error" in line.lower()]
    return (errors or lines or [""])[0].strip()[:160]


def _no_traceback(process: subprocess.CompletedProcess) -> bool:
    return "Traceback (most recent call last)" not in process.stderr + process.stdout


def _data(work: Path) -> Path:
    """A copy of the shipped sample as a user's data folder (MNIST/raw layout)."""
    folder = work / "data" / "MNIST" / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    for file in SAMPLE.glob("*.gz"):
        shutil.copy(file, folder / file.name)
    return work / "data"


def _run(work: Path, *extra: str, expid: str = "1", pruner: str = "rand") -> subprocess.CompletedProcess:
    return _prunekit([*FC, "--pruner", pruner, "--compression", "1", "--expid", expid, "--result-dir",
                      str(work / "results"), "--data-dir", str(_data(work)), *TINY, *extra], work)


def _expect(case: str, process: subprocess.CompletedProcess, codes: tuple[int, ...], needle: str,
            extra_ok: bool = True, note: str = "") -> Outcome:
    line = _first_line(process)
    text = process.stderr + process.stdout
    ok = process.returncode in codes and needle.lower() in text.lower() and _no_traceback(process) and extra_ok
    return Outcome(case, process.returncode, line, ok, note)


# --- the cases ---------------------------------------------------------------------------------------------------

def expid_escapes(work: Path) -> Outcome:
    victim = work / "victim"
    victim.mkdir()
    (victim / "result.json").write_text("{}")
    process = _run(work, "--overwrite", expid="../../victim")
    return _expect("--expid ../../victim --overwrite", process, (2,), "would leave",
                   (victim / "result.json").exists(), "victim/result.json kept")


def expid_absolute(work: Path) -> Outcome:
    process = _run(work, expid=str(work / "abs"))
    return _expect("--expid /absolute/path", process, (2,), "would leave", not (work / "abs").exists())


def sweep_name_escapes(work: Path) -> Outcome:
    process = _prunekit(["sweep", "--name", "../x", "--result-dir", str(work / "results"), "--pruners", "rand",
                         "--compressions", "1", *TINY[:-1]], work)
    return _expect("sweep --name ../x", process, (2,), "would leave", not (work / "x").exists())


def overwrite_bad_model(work: Path) -> Outcome:
    first = _run(work, expid="keep")
    result = work / "results" / "singleshot" / "keep" / "result.json"
    before = result.read_bytes() if result.exists() else b""
    process = _prunekit([*FC[:2], "--model", "fcc", *FC[4:], "--pruner", "rand", "--compression", "1", "--expid", "keep",
                         "--overwrite", "--result-dir", str(work / "results"), "--data-dir", str(_data(work)), *TINY],
                        work)
    kept = first.returncode == 0 and result.exists() and result.read_bytes() == before
    return _expect("--model fcc --overwrite over a finished run", process, (2,), "fcc", kept, "old result kept")


def handout_into_repo(work: Path) -> Outcome:
    clone = work / "clone"
    shutil.copytree(REPO / "notebooks", clone / "notebooks")
    (clone / "README.md").write_text("instructor's README\n")
    before = (clone / "notebooks" / "05_synflow.ipynb").read_bytes()
    process = _prunekit(["handout", "--notebooks", str(clone / "notebooks"), "--out", str(clone)], work)
    kept = (clone / "notebooks" / "05_synflow.ipynb").read_bytes() == before
    return _expect("handout --out <the repository>", process, (2,), "notebooks", kept, "instructor notebooks kept")


def sweep_changed_settings(work: Path) -> Outcome:
    base = ["sweep", "--name", "chg", "--result-dir", str(work / "results"), "--pruners", "rand", "--compressions",
            "1", "--data-dir", str(_data(work)), "--train-limit", "200", "--test-limit", "100"]
    _prunekit([*base, "--post-epochs", "1"], work)
    process = _prunekit([*base, "--post-epochs", "2"], work)
    return _expect("sweep rerun with --post-epochs changed", process, (2,), "post_epochs")


def sweep_overwrite(work: Path) -> Outcome:
    base = ["sweep", "--name", "chg", "--result-dir", str(work / "results"), "--pruners", "rand", "--compressions",
            "1", "--data-dir", str(_data(work)), "--train-limit", "200", "--test-limit", "100"]
    _prunekit([*base, "--post-epochs", "1"], work)
    process = _prunekit([*base, "--post-epochs", "2", "--overwrite"], work)
    result = work / "results" / "chg" / "singleshot" / "rand-c1-s1" / "result.json"
    recomputed = result.exists() and '"post_epochs": 2' in result.read_text()
    return _expect("sweep rerun with --post-epochs changed and --overwrite", process, (0,), "1 done", recomputed,
                   "recomputed with 2 epochs")


def diverged(work: Path) -> Outcome:
    process = _run(work, "--optimizer", "sgd", "--lr", "1e6", expid="div")
    result = work / "results" / "singleshot" / "div" / "result.json"
    recorded = result.exists() and "diverged" in result.read_text()
    return _expect("--optimizer sgd --lr 1e6", process, (1,), "diverged", recorded, "result recorded as diverged")


def corrupt_checkpoint(work: Path) -> Outcome:
    folder = work / "results" / "singleshot" / "corrupt"
    command = [sys.executable, "-m", "prunekit", *FC, "--pruner", "rand", "--compression", "1", "--expid", "corrupt",
               "--result-dir", str(work / "results"), "--data-dir", str(_data(work)), "--train-limit", "2000",
               "--test-limit", "100", "--post-epochs", "3", "--quiet"]
    process = subprocess.Popen(command, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not (folder / "checkpoint-post.pt").exists() and process.poll() is None:
        time.sleep(0.2)
    process.kill()
    process.wait()
    checkpoint = folder / "checkpoint-post.pt"
    if checkpoint.exists():
        checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    again = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=600)
    return _expect("truncated checkpoint-post.pt, same command again", again, (0,), "checkpoint-post.pt",
                   (folder / "result.json").exists(), "restarted cleanly")


def leftover_config(work: Path) -> Outcome:
    _run(work, "--data-dir", str(work / "missing"), expid="retry")
    process = _run(work, expid="retry")
    return _expect("corrected command after a failed start", process, (0,), "")


def crafted_cifar(work: Path) -> Outcome:
    folder = work / "evil" / "cifar-10-batches-py"
    folder.mkdir(parents=True)

    class Payload:
        def __reduce__(self) -> tuple:
            return (os.system, (f"touch {work / 'PWNED'}",))

    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        (folder / name).write_bytes(pickle.dumps({b"data": Payload(), b"labels": [0]}, protocol=2))
    process = _prunekit(["--model-class", "lottery", "--model", "vgg16", "--dataset", "cifar10", "--pruner", "rand",
                         "--compression", "1", "--expid", "evil", "--result-dir", str(work / "results"),
                         "--data-dir", str(work / "evil"), *TINY], work)
    return _expect("crafted CIFAR-10 data_batch_1", process, (1, 2), "refusing", not (work / "PWNED").exists(),
                   "payload not run")


def truncated_gz(work: Path) -> Outcome:
    data = _data(work)
    target = data / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:5000])
    process = _prunekit([*FC, "--pruner", "rand", "--compression", "1", "--expid", "gz", "--result-dir",
                         str(work / "results"), "--data-dir", str(data), *TINY], work)
    return _expect("truncated train-images .gz", process, (1, 2), "train-images-idx3-ubyte.gz")


def labels_out_of_range(work: Path) -> Outcome:
    data = _data(work)
    target = data / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(target.read_bytes()))
    raw[8] = 200
    target.write_bytes(gzip.compress(bytes(raw)))
    process = _prunekit([*FC, "--pruner", "rand", "--compression", "1", "--expid", "lab", "--result-dir",
                         str(work / "results"), "--data-dir", str(data), *TINY], work)
    return _expect("a training label of 200", process, (1, 2), "200")


def bad_result_file(work: Path) -> Outcome:
    _run(work, expid="good")
    bad = work / "results" / "singleshot" / "bad"
    bad.mkdir(parents=True)
    (bad / "result.json").write_text("[]")
    process = _prunekit(["report", str(work / "results"), "--out", str(work / "report")], work)
    return _expect("report over a result.json that is []", process, (0,), "bad/result.json",
                   (work / "report" / "report.html").exists(), "the rest reported")


def bad_override(work: Path) -> Outcome:
    process = _prunekit(["sweep", "--name", "ovr", "--result-dir", str(work / "results"), "--pruners", "rand",
                         "--compressions", "1", "--override", "rand:post_epochs=abc"], work)
    return _expect("sweep --override rand:post_epochs=abc", process, (2,), "abc")


def result_dir_is_a_file(work: Path) -> Outcome:
    (work / "afile").write_text("x")
    process = _run(work, "--result-dir", str(work / "afile"), expid="f")
    return _expect("--result-dir is a file", process, (1, 2), "afile")


def read_only_result_dir(work: Path) -> Outcome:
    folder = work / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    process = _run(work, "--result-dir", str(folder), expid="ro")
    folder.chmod(0o755)
    note = "root ignores permissions" if os.geteuid() == 0 else ""
    return _expect("read-only --result-dir", process, (0, 1) if os.geteuid() == 0 else (1,), "", note=note)


def _flag_case(name: str, flags: list[str], needle: str) -> Callable[[Path], Outcome]:
    def case(work: Path) -> Outcome:
        return _expect(name, _run(work, *flags, expid="flag"), (2,), needle,
                       not (work / "results" / "singleshot" / "flag").exists(), "nothing written")

    return case


def missing_data_dir(work: Path) -> Outcome:
    process = _prunekit([*FC, "--pruner", "rand", "--compression", "1", "--expid", "m", "--result-dir",
                         str(work / "results"), "--data-dir", str(work / "nowhere"), *TINY], work)
    return _expect("--data-dir that does not exist", process, (2,), "nowhere")


def _papermill_case(name: str, parameters: list[str], needle: str) -> Callable[[Path], Outcome]:
    def case(work: Path) -> Outcome:
        process = subprocess.run([sys.executable, "-m", "papermill", str(REPO / "notebooks" / "05_synflow.ipynb"),
                                  str(work / "out.ipynb"), "-p", "INTERACTIVE", "False", *parameters, "--cwd",
                                  str(REPO / "notebooks")], capture_output=True, text=True, timeout=600)
        # papermill prints the notebook's traceback; the row shows the check's message
        lines = process.stderr.splitlines()
        line = next((ln for ln in lines if ln.startswith("ParameterError:")), _first_line(process))
        ok = process.returncode != 0 and needle in process.stderr
        return Outcome(name, process.returncode, line.strip()[:160], ok)

    return case


def ctrl_c(work: Path) -> Outcome:
    process = subprocess.Popen([sys.executable, "-m", "prunekit", *FC, "--pruner", "rand", "--compression", "1",
                                "--expid", "int", "--result-dir", str(work / "results"), "--data-dir",
                                str(_data(work)), "--post-epochs", "50", "--train-limit", "5000"], cwd=work,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (work / "results" / "singleshot" / "int").exists():
        time.sleep(0.2)
    time.sleep(1.0)  # let training start: the point is an interrupt mid-run
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    done = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    return _expect("Ctrl-C during training", done, (130,), "interrupt")


CASES: dict[str, Callable[[Path], Outcome]] = {
    "expid": expid_escapes,
    "expid-absolute": expid_absolute,
    "sweep-name": sweep_name_escapes,
    "overwrite": overwrite_bad_model,
    "handout": handout_into_repo,
    "sweep-settings": sweep_changed_settings,
    "sweep-overwrite": sweep_overwrite,
    "diverged": diverged,
    "checkpoint": corrupt_checkpoint,
    "leftover-config": leftover_config,
    "pickle": crafted_cifar,
    "gz": truncated_gz,
    "labels": labels_out_of_range,
    "bad-result": bad_result_file,
    "override": bad_override,
    "result-file": result_dir_is_a_file,
    "read-only": read_only_result_dir,
    "lr-drop-rate": _flag_case("--lr-drop-rate -0.1", ["--lr-drop-rate", "-0.1"], "lr_drop_rate"),
    "seed": _flag_case("--seed 2**70", ["--seed", str(2**70)], "seed"),
    "compression-inf": _flag_case("--compression inf", ["--compression", "inf"], "inf"),
    "compression-too-high": _flag_case("--compression 9 (keeps < 1 weight)", ["--compression", "9"], "compression"),
    "bad-device": _flag_case("--device cuda:7", ["--device", "cuda:7"], "cuda:7"),
    "data-dir": missing_data_dir,
    "papermill-unknown": _papermill_case("papermill -p PRUNER nonsense", ["-p", "PRUNER", "nonsense"], "PRUNER"),
    "papermill-type": _papermill_case("papermill -p COMPRESSION abc", ["-p", "COMPRESSION", "abc"], "COMPRESSION"),
    "ctrl-c": ctrl_c,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(CASES), help="run only these cases")
    args = parser.parse_args(argv)
    outcomes = []
    for key, case in CASES.items():
        if args.only and key not in args.only:
            continue
        with tempfile.TemporaryDirectory(prefix=f"probe-{key}-") as folder:
            work = Path(folder)
            try:
                outcome = case(work)
            except Exception as error:  # noqa: BLE001 - a probe that crashes is a failed case, reported in the table
                outcome = Outcome(key, -1, f"probe crashed: {type(error).__name__}: {error}"[:160], False)
        outcomes.append(outcome)
        print(f"| {outcome.case} | {outcome.code} | {outcome.first_line} | {'ok' if outcome.ok else 'FAIL'} "
              f"{outcome.note} |", flush=True)
    failed = [o.case for o in outcomes if not o.ok]
    print(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed" + (f": {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
