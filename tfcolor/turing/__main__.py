"""`python -m tfcolor.turing`: the original code's visual Turing test, as a local web page.

    python -m tfcolor.turing --checkpoints-path RUN [--dataset ... --dataset-path ...] [--size 100] [--delay 2]

Serves http://127.0.0.1:8000/ where a person sees a real and a colorized version of the same photo
side by side (random order and sides) and clicks the one they believe is real. With `--delay N` a
pair disappears after N seconds and counts as no answer. Several people can take it; each session
is stored apart under `--output` (default: a folder named after the run and the study, so two
studies never pool their answers): sessions/*.json, answers.csv, and summary.json with the fooling
rate over complete sessions and its 95% confidence interval. Participants are told no score.
`--export-html DIR` instead writes a self-contained page (images embedded, and with them which
side is real: for trusted participants only) to send to people; its answers download as a JSON file.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import sys
from pathlib import Path

from tfcolor.config import DATASETS, ConfigError, flags, run_layout
from tfcolor.data import pipelines, skips
from tfcolor.models import restoring
from tfcolor.turing import page
from tfcolor.turing.limits import StudyLimits
from tfcolor.turing.pairs import build_pairs
from tfcolor.turing.server import TuringServer
from tfcolor.turing.store import SessionStore
from tfcolor.turing.study import StudyMismatchError, default_folder, study_id


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tfcolor.turing", description=__doc__.splitlines()[0])
    flags.add_run_flag(parser, "trained run whose colorizations are tested", required=True)
    parser.add_argument("--dataset", choices=DATASETS, help="photos to test on (default: the run's dataset)")
    parser.add_argument("--dataset-path", help="default: the run's dataset path")
    parser.add_argument("--size", "--turing-test-size", type=flags.positive_int, default=100, dest="size",
                        help="number of photo pairs")
    parser.add_argument("--delay", "--turing-test-delay", type=float, default=0, dest="delay",
                        help="seconds before a pair disappears (0: no limit)")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on")
    parser.add_argument("--port", type=int, default=8000, help="port to serve on (0: any free port)")
    parser.add_argument("--output", help="results folder (default: turing-<run name>-<study id>); one study per folder")
    parser.add_argument("--max-sessions-per-client", type=flags.positive_int, default=StudyLimits.sessions_per_client,
                        help="sessions one remote address may start (raise it for a room behind one address)")
    parser.add_argument("--export-html", metavar="DIR", help="write a self-contained page to DIR instead of serving")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.delay < 0:
        parser.error(f"--delay: expected seconds, 0 or more, got {args.delay}")
    try:
        config, model = restoring.load_colorizer(args.checkpoints_path)
    except (run_layout.RunError, ConfigError) as error:
        parser.error(str(error))
    data_config = run_layout.held_out_data(config.data, args.dataset, args.dataset_path)
    try:
        images, _ = pipelines.evaluation_set(data_config, batch_size=16, limit=args.size)
        pairs = build_pairs(model, images, args.size)
    except skips.DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not pairs:
        print("error: no usable photos for the test (all were corrupt or grayscale).", file=sys.stderr)
        return 1
    delay = args.delay or None
    if args.export_html:
        target = Path(args.export_html) / "turing_test.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page.render("static", delay, pairs), encoding="utf-8")
        print(f"Wrote a self-contained test of {len(pairs)} pairs to {target}; answers download as JSON at the end.")
        return 0
    output = Path(args.output or default_folder(args.checkpoints_path, study_id(pairs, delay)))
    try:
        store = SessionStore(output, pairs, delay, str(args.checkpoints_path),
                             StudyLimits(sessions_per_client=args.max_sessions_per_client))
    except StudyMismatchError as error:
        parser.error(f"--output: {error}")

    def report(session_id: str, summary: dict) -> None:
        rate = "n/a" if summary["fooling_rate"] is None else f"{100 * summary['fooling_rate']:.1f}%"
        print(f"{datetime.datetime.now():%H:%M:%S} session {session_id}: fooled {summary['fooled']} of "
              f"{summary['answered']} ({rate}), {summary['no_answer']} without answer", flush=True)

    server = TuringServer((args.host, args.port), store, report)
    host, port = server.server_address[:2]
    print(f"Turing test of {len(pairs)} pairs at http://{host}:{port}/ (Ctrl-C to stop); results in {output}/", flush=True)
    with server, contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops it; leaving the block closes it
        server.serve_forever()
    print(f"Results: {output / 'summary.json'}, {output / 'answers.csv'}, {output / 'sessions'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
