"""What pruning buys at inference: masked dense vs CSR layers, and compact structured VGG16 vs dense.

Prints, in one run:

1. three linear layers (784×100, the MNIST FC's first; 1024×1024; 4096×4096) at densities
   10^-0.5 … 10^-3 on a batch of 1,000 inputs: masked dense (``weight * mask``, dense product)
   against the kept weights stored and multiplied as CSR, median and IQR of each, the speed-up
   (or "no measurable difference" when the spreads overlap), and the crossover density of each size;
2. VGG16 on a CIFAR-sized batch (default 256 × 3×32×32): the dense network, the masked network with
   half / a quarter of each hidden layer's channels removed (L1 channel norm), and the compact
   networks rebuilt from them: parameters, FLOPs, times and speed-ups; the largest difference
   between compact and masked outputs;
3. the accuracy of those VGG16s, pruned at initialization and briefly trained on the CIFAR-10
   FALLBACK (MNIST digits padded to 3×32×32: CIFAR-10 is not on this machine), labelled as such.

Usage::

    .venv/bin/python benchmarks/bench_inference.py            # about 6-8 minutes on 2 cores
    .venv/bin/python benchmarks/bench_inference.py --quick    # a smoke run (small sizes, few repeats)
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
import warnings

import torch

from prunekit.run.data import cifar_fallback
from prunekit.teach.lessons.inference import (
    DENSITIES,
    LAYER_SIZES,
    crossovers,
    keep_accuracy,
    layer_speed,
    structured_speed,
)


def _ms(value: float) -> str:
    return f"{value:,.3g}" if value < 100 else f"{value:,.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads while timing (default 1)")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per layer measurement")
    parser.add_argument("--large-repeats", type=int, default=7, help="timed calls for the 4096×4096 layer")
    parser.add_argument("--batch", type=int, default=1000, help="inputs per layer product")
    parser.add_argument("--vgg-batch", type=int, default=256, help="images per VGG16 forward")
    parser.add_argument("--vgg-repeats", type=int, default=7, help="timed VGG16 forwards")
    parser.add_argument("--train-images", type=int, default=2048, help="FALLBACK images to train each VGG16 on "
                        "(0: skip accuracy)")
    parser.add_argument("--test-images", type=int, default=2000, help="FALLBACK test images")
    parser.add_argument("--data-dir", default=None, help="where MNIST is (for the fallback)")
    parser.add_argument("--quick", action="store_true", help="smoke run: small layers, few repeats")
    args = parser.parse_args(argv)
    sizes = LAYER_SIZES
    if args.quick:
        sizes = ((100, 784), (256, 256), (512, 512))
        args.repeats, args.large_repeats, args.vgg_batch, args.vgg_repeats = 3, 3, 16, 3
        args.train_images, args.test_images = 128, 200

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"bench_inference  {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC  torch "
          f"{torch.__version__}  cores {os.cpu_count()}  timing threads {args.threads}  load {load:.2f}")
    print("times: median (IQR) of the timed calls after warm-up; 'no measurable difference' = the IQRs overlap\n")

    start = time.perf_counter()
    table = layer_speed(sizes, DENSITIES, batch=args.batch, repeats=args.repeats, threads=args.threads,
                        large_repeats=args.large_repeats)
    print(f"## 1. masked dense vs CSR, one linear layer, batch of {args.batch} inputs\n")
    print("| layer (in×out) | density | kept | masked dense, ms (IQR) | CSR, ms (IQR) | CSR speed-up |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for row in table.itertuples():
        speed = f"{row.speedup:.2f}×" if row.resolved else "no measurable difference"
        print(f"| {row.layer} | {row.density:.4f} | {row.kept:,} | {_ms(row.masked_ms)} ({_ms(row.masked_iqr_ms)}) | "
              f"{_ms(row.sparse_ms)} ({_ms(row.sparse_iqr_ms)}) | {speed} |")
    print(f"\nlargest |masked − CSR| output difference: {table.max_abs_diff.max():.2e}")
    print("\ncrossover density (CSR faster below it):\n")
    for row in crossovers(table).itertuples():
        value = f"{row.crossover:.3g}" if row.crossover == row.crossover else "—"
        print(f"- {row.layer}: {value}  ({row.note})")
    print(f"\n[{time.perf_counter() - start:.0f} s]\n")

    start = time.perf_counter()
    vgg = structured_speed("lottery", "vgg16", (3, 32, 32), keeps=(0.5, 0.25), batch=args.vgg_batch,
                           repeats=args.vgg_repeats, warmup=1, threads=args.threads)
    accuracy = None
    if args.train_images > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            train = cifar_fallback(train=True, data_dir=args.data_dir)
            test = cifar_fallback(train=False, data_dir=args.data_dir)
        accuracy = keep_accuracy("lottery", "vgg16", train, test, keeps=(1.0, 0.5, 0.25), methods=("l1",), epochs=1,
                                 train_limit=args.train_images, test_limit=args.test_images, batch_size=64)
    print(f"## 2. VGG16, structured (L1 channel norm, each hidden layer), batch of {args.vgg_batch} × 3×32×32\n")
    acc_head = " | top-1, FALLBACK data |" if accuracy is not None else " |"
    print("| channels kept | params | FLOPs | FLOP ratio | dense, ms (IQR) | masked, ms (IQR) | compact, ms (IQR) "
          f"| compact vs dense{acc_head}")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---" + (" | ---: |" if accuracy is not None else " |"))
    first = vgg.iloc[0]
    dense_acc = ""
    if accuracy is not None:
        dense_acc = f" {accuracy.loc[accuracy.keep >= 1, 'top1'].iloc[0]:.1f} % |"
    print(f"| 1 (dense) | 14,719,818 | {first.flops / first.flop_ratio:,.0f} | 1.000 | {_ms(first.dense_ms)} "
          f"({_ms(first.dense_iqr_ms)}) | — | — | 1 |{dense_acc}")
    for row in vgg.itertuples():
        speed = f"**{row.speedup:.2f}×**" if row.resolved else "no measurable difference"
        acc = ""
        if accuracy is not None:
            acc = f" {accuracy.loc[(accuracy.keep - row.keep).abs() < 1e-9, 'top1'].iloc[0]:.1f} % |"
        print(f"| {row.keep:g} | {row.params:,} | {row.flops:,} | {row.flop_ratio:.3f} | {_ms(row.dense_ms)} "
              f"({_ms(row.dense_iqr_ms)}) | {_ms(row.masked_ms)} ({_ms(row.masked_iqr_ms)}) | {_ms(row.compact_ms)} "
              f"({_ms(row.compact_iqr_ms)}) | {speed} |{acc}")
    print(f"\nlargest |compact − masked| output difference: {vgg.max_abs_diff.max():.2e}")
    print("masked (same size, channels zeroed) vs dense: " + "; ".join(
        f"keep {row.keep:g}: {row.masked_verdict}" for row in vgg.itertuples() if row.keep < 1))
    if accuracy is not None:
        print(f"accuracy: FALLBACK (MNIST digits padded to 3×32×32, not CIFAR-10); each network pruned at "
              f"initialization, then 1 epoch of Adam on {args.train_images:,} images, tested on {args.test_images:,}")
    print(f"\n[{time.perf_counter() - start:.0f} s]")
    half = vgg.loc[(vgg.keep - 0.5).abs() < 1e-9].iloc[0]
    target = half.resolved and half.speedup >= 2.5
    print(f"\nVGG16 with half the channels: {half.speedup:.2f}× faster than dense (target ≥ 2.5×: "
          f"{'met' if target else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
