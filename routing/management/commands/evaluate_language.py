import json
import time
from argparse import ArgumentParser
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from knowledge.evaluation import percentile
from knowledge.language import MIN_CONFIDENCE_MARGIN, MIN_LETTERS_TO_DETECT, MIN_WORDS_TO_DETECT
from routing.components.language_detector import LanguageDetector

XSID_FILE = Path("xsid") / "xsid_0.7_test.jsonl"
BANKING77_FILE = Path("banking77") / "banking77_en_ar_test.jsonl"

# xSID variants that are dialects of a language we can detect (see xsid/SOURCE.txt): Bavarian,
# Munich Bavarian, South Tyrolean and Swiss German are written German; Neapolitan is closest to
# Italian; the Norwegian dialect writers write Bokmål-like text. They are reported on their own,
# not mixed into the standard language's accuracy.
XSID_DIALECT_OF = {
    "de-ba": "de",
    "de-muc": "de",
    "de-st": "de",
    "gsw": "de",
    "nap": "it",
    "no": "nb",
}


@dataclass(frozen=True)
class Sample:
    dataset: str
    expected: str  # the ISO 639-1 code a correct detector answers
    variety: str  # the dataset's own label: a dialect, an Arabic variety, or the language
    text: str
    standard: bool  # counted in the per-language accuracy (dialects are reported apart)


class Command(BaseCommand):
    help = (
        "Measure the LanguageDetector on xSID (voice-assistant commands in many languages) and "
        "banking77 (English and Arabic varieties): accuracy per language and dataset, the most "
        "common wrong answers, and the warm per-message latency."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--languages",
            default="en,pt,es,fr,de",
            help="The flow's enabled languages, ISO 639-1, comma-separated (English is added)",
        )
        parser.add_argument("--default", default="en", help="The flow's default language")
        parser.add_argument(
            "--data",
            type=Path,
            default=None,
            help="The evaluation folder (default: <project>/../shared/eval)",
        )
        parser.add_argument("--json", action="store_true", help="Print the figures as JSON")
        # For tuning: the detector's thresholds, defaulting to what the product ships with.
        parser.add_argument("--min-letters", type=int, default=MIN_LETTERS_TO_DETECT)
        parser.add_argument("--min-words", type=int, default=MIN_WORDS_TO_DETECT)
        parser.add_argument("--min-margin", type=float, default=MIN_CONFIDENCE_MARGIN)

    def handle(self, *args: Any, **options: Any) -> None:
        data: Path = options["data"] or Path(settings.BASE_DIR).parent / "shared" / "eval"
        try:
            detector = LanguageDetector(
                languages=[code for code in options["languages"].split(",") if code.strip()],
                default_language=options["default"],
                min_letters=options["min_letters"],
                min_words=options["min_words"],
                min_margin=options["min_margin"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        enabled = set(detector.languages)
        paths = [data / XSID_FILE, data / BANKING77_FILE]
        if not any(path.exists() for path in paths):
            raise CommandError(f"Neither {paths[0]} nor {paths[1]} exists.")
        samples = list(self._xsid(paths[0], enabled)) + list(self._banking77(paths[1], enabled))
        if not samples:
            raise CommandError("No evaluation message is in an enabled language.")

        detector.warm_up()
        detector.run(text="warm up the caches")
        answers: list[str] = []
        latencies: list[float] = []
        for sample in samples:
            started = time.perf_counter()
            answers.append(detector.run(text=sample.text)["language"])
            latencies.append((time.perf_counter() - started) * 1000)

        figures = self._figures(detector, samples, answers, latencies)
        if options["json"]:
            self.stdout.write(json.dumps(figures, ensure_ascii=False))
        else:
            self._print(figures)

    def _rows(self, path: Path) -> Iterator[dict[str, Any]]:
        if not path.exists():
            self.stderr.write(f"Skipping {path}: it does not exist.")
            return
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except ValueError as error:
                    raise CommandError(f"{path}:{number}: not JSON ({error}).") from None

    def _xsid(self, path: Path, enabled: set[str]) -> Iterator[Sample]:
        for row in self._rows(path):
            code, text = row["lang"], row["text"]
            if code == "ja":
                # xSID tokenises Japanese with spaces between words; Japanese has none.
                text = text.replace(" ", "")
            if code in enabled:
                yield Sample("xsid", code, code, text, standard=True)
            elif XSID_DIALECT_OF.get(code) in enabled:
                yield Sample("xsid", XSID_DIALECT_OF[code], code, text, standard=False)

    def _banking77(self, path: Path, enabled: set[str]) -> Iterator[Sample]:
        for row in self._rows(path):
            if row["lang"] in enabled:
                variety = row.get("variety") or row["lang"]
                yield Sample("banking77", row["lang"], variety, row["text"], standard=True)

    def _figures(
        self,
        detector: LanguageDetector,
        samples: list[Sample],
        answers: list[str],
        latencies: list[float],
    ) -> dict[str, Any]:
        tally: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
        confusions: Counter[tuple[str, str, str]] = Counter()
        example: dict[tuple[str, str, str], str] = {}
        for sample, answer in zip(samples, answers, strict=True):
            correct = int(answer == sample.expected)
            keys: list[tuple[str, ...]] = [("variety", sample.dataset, sample.variety)]
            if sample.standard:
                keys += [("language", sample.dataset, sample.expected), ("dataset", sample.dataset)]
                if not correct:
                    confusion = (sample.dataset, sample.expected, answer)
                    confusions[confusion] += 1
                    example.setdefault(confusion, sample.text)
            for key in keys:
                tally[key][0] += correct
                tally[key][1] += 1

        def score(key: tuple[str, ...]) -> dict[str, Any]:
            correct, total = tally[key]
            return {"messages": total, "accuracy": round(correct / total, 4)}

        expected_of = {(sample.dataset, sample.variety): sample.expected for sample in samples}
        datasets: dict[str, Any] = {}
        for dataset in dict.fromkeys(sample.dataset for sample in samples):
            datasets[dataset] = {
                **(score(("dataset", dataset)) if ("dataset", dataset) in tally else {}),
                "languages": {
                    key[2]: score(key)
                    for key in sorted(tally)
                    if key[0] == "language" and key[1] == dataset
                },
                "varieties": {
                    key[2]: {**score(key), "expected": expected_of[(dataset, key[2])]}
                    for key in sorted(tally)
                    if key[0] == "variety" and key[1] == dataset
                },
            }
        latencies.sort()
        return {
            "languages": detector.languages,
            "default_language": detector.default_language,
            "datasets": datasets,
            "confusions": [
                {
                    "dataset": dataset,
                    "expected": expected,
                    "detected": detected,
                    "count": count,
                    "example": example[(dataset, expected, detected)],
                }
                for (dataset, expected, detected), count in confusions.most_common(10)
            ],
            "latency_ms": {
                "p50": round(percentile(latencies, 0.50), 3),
                "p95": round(percentile(latencies, 0.95), 3),
            },
        }

    def _print(self, figures: dict[str, Any]) -> None:
        self.stdout.write(
            f"Languages {','.join(figures['languages'])}, default {figures['default_language']}"
        )
        for dataset, result in figures["datasets"].items():
            overall = (
                f"{result['accuracy']:.2%} of {result['messages']}" if "accuracy" in result else "-"
            )
            self.stdout.write(f"\n{dataset}: {overall}")
            for code, score in result["languages"].items():
                self.stdout.write(f"  {code:<10} {score['accuracy']:>7.2%}  ({score['messages']})")
            for variety, score in result["varieties"].items():
                if variety in result["languages"]:
                    continue
                self.stdout.write(
                    f"  {variety:<10} {score['accuracy']:>7.2%}  ({score['messages']}) "
                    f"as {score['expected']}"
                )
        if figures["confusions"]:
            self.stdout.write("\nMost common wrong answers:")
            for wrong in figures["confusions"]:
                self.stdout.write(
                    f"  {wrong['dataset']:<10} {wrong['expected']} -> {wrong['detected']}: "
                    f"{wrong['count']}  e.g. {wrong['example']!r}"
                )
        latency = figures["latency_ms"]
        self.stdout.write(
            f"\nLatency per message (warm): p50 {latency['p50']} ms, p95 {latency['p95']} ms"
        )
