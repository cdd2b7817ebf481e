"""FER2013 (Training -> PublicTest): supervised CNNs under a time budget, and their hybrids.

For each network (the CNN-LSTM paper's Model 3 and the deeper ``fer_resnet``) the script

1. estimates the epoch time from a short probe and trains ``CNNFeatures`` on Training for as
   many epochs as fit into ``--budget-minutes`` (also enforced as a hard time limit), printing
   per epoch the training time, training loss/accuracy and PublicTest accuracy (PublicTest is
   only reported: no early stopping or choice is made on it);
2. reports the network's own softmax accuracy on PublicTest (the reference in this process);
3. fits the hybrids on the trained network's features of the Training images:
   ``CNNFeatures -> WNXGBClassifier`` (penultimate embeddings) and
   ``CNNFeatures -> LSTMHeadClassifier`` (the trunk's spatial tokens, early stopping on 10% of
   Training), and prints their PublicTest accuracy and the ratio to the network's.

Model 3 is trained as in the paper (Adam 1e-3, batch 64, cross-entropy, no augmentation);
``fer_resnet`` with Adam 1e-3, a cosine schedule over the planned epochs, and flip/affine
augmentation. Runs on the CPU with ``--threads`` threads (default 2) unless ``--device``
says otherwise (on a GPU, mixed precision is used automatically).

    python benchmarks/bench_fer2013_cnn.py [--budget-minutes 20] [--max-train N]
        [--nets cnnlstm_model3,fer_resnet] [--data ../shared/data/fer2013]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from _paths import data_root  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from hybridfer.classifiers import LSTMHeadClassifier, WNXGBClassifier
from hybridfer.data import load_fer2013, usage_split
from hybridfer.extractors.cnn import CNNFeatures
from hybridfer.nn import build_fer_net, count_parameters
from hybridfer.nn.augment import make_augmentation
from hybridfer.nn.devices import resolve_device
from hybridfer.nn.preprocessing import Preprocessor

NET_SETTINGS = {
    "cnnlstm_model3": {"learning_rate": 1e-3, "lr_schedule": None, "augment": None},
    "fer_resnet": {"learning_rate": 1e-3, "lr_schedule": "cosine", "augment": "default"},
}


def probe_images_per_second(arch: str, images: np.ndarray, settings: dict, device) -> float:
    """Training throughput of a throwaway copy of the network (10 batches after 2 warm-up)."""
    torch.manual_seed(0)
    net = build_fer_net(arch, n_classes=7).to(device).train()
    prep = Preprocessor(None, "none", out_channels=1).to(device)
    augment = make_augmentation(settings["augment"])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    timings = []
    for step in range(12):
        idx = rng.choice(len(images), 64, replace=False)
        t = time.perf_counter()
        x = prep(torch.from_numpy(images[idx]).to(device))
        if augment is not None:
            x = augment(x)
        loss = torch.nn.functional.cross_entropy(net(x), torch.randint(0, 7, (64,), device=device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= 2:
            timings.append(time.perf_counter() - t)
    return 64 / float(np.median(timings))


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(pred == y))


def run_network(arch: str, train, test, args, device) -> dict:
    settings = NET_SETTINGS[arch]
    n_train = len(train)
    ips = probe_images_per_second(arch, train.images, settings, device)
    # an epoch: training, plus PublicTest evaluation (forward only, about 3x faster)
    epoch_s = n_train / ips + len(test) / (3 * ips)
    budget_s = args.budget_minutes * 60
    epochs = max(1, int(budget_s // epoch_s))
    model = build_fer_net(arch, n_classes=7)
    print(
        f"\n=== {arch}: {count_parameters(model):,} parameters "
        f"({count_parameters(model, keras=True):,} Keras-counted); probe {ips:.0f} train "
        f"images/s -> about {epoch_s / 60:.1f} min per epoch; planning {epochs} epochs in "
        f"{args.budget_minutes:g} min"
    )

    def report(record):
        print(
            f"  epoch {record['epoch']:>2}: {record['time']:6.1f} s "
            f"({record['n_samples'] / record['time']:.0f} img/s)  loss {record['loss']:.4f}  "
            f"train acc {record['accuracy']:.4f}  PublicTest acc {record['val_accuracy']:.4f}"
            + ("  (partial epoch: budget reached)" if record.get("time_ran_out") else ""),
            flush=True,
        )

    features = CNNFeatures(
        arch,
        epochs=epochs,
        batch_size=64,
        min_lr=1e-5,
        max_time=budget_s,
        device=args.device,
        random_state=args.seed,
        verbose=args.verbose,
        **settings,
    )
    # PublicTest accuracy per epoch is only reported: early_stopping=False, nothing is chosen
    # on it (verbose=1 also prints each epoch's line live)
    t0 = time.perf_counter()
    features.fit(train.images, train.labels, eval_set=(test.images, test.labels))
    train_s = time.perf_counter() - t0
    for record in features.history_:
        report(record)
    print(
        f"  trained {features.n_epochs_} epochs in {train_s / 60:.1f} min "
        f"({np.mean([r['time'] for r in features.history_]):.1f} s per epoch, "
        f"{features.n_epochs_ / train_s * 60:.2f} epochs/min)"
    )
    net_acc = accuracy(features.network_predict(test.images), test.labels)
    print(f"  network softmax         PublicTest acc {net_acc:.4f}  (reference)")

    results = {"arch": arch, "network": net_acc, "epochs": features.n_epochs_}
    t = time.perf_counter()
    Z_train = features.transform(train.images)
    Z_test = features.transform(test.images)
    xgb = WNXGBClassifier(
        n_estimators=args.xgb_trees,
        max_depth=6,
        learning_rate=0.1,
        n_jobs=args.threads,
        random_state=args.seed,
    ).fit(Z_train, train.labels)
    xgb_acc = accuracy(xgb.predict(Z_test), test.labels)
    results["wnxgb"] = xgb_acc
    print(
        f"  hybrid -> WNXGB         PublicTest acc {xgb_acc:.4f}  ratio {xgb_acc / net_acc:.3f}"
        f"  ({Z_train.shape[1]} features, {time.perf_counter() - t:.0f} s)"
    )

    t = time.perf_counter()
    features.set_params(output="tokens")
    T_train = features.transform(train.images)
    T_test = features.transform(test.images)
    lstm = LSTMHeadClassifier(
        hidden_size=128,
        dropout=0.3,
        epochs=30,
        batch_size=128,
        early_stopping=True,
        patience=3,
        max_time=args.head_minutes * 60,
        device=args.device,
        random_state=args.seed,
    ).fit(T_train, train.labels)
    lstm_acc = accuracy(lstm.predict(T_test), test.labels)
    results["lstm"] = lstm_acc
    print(
        f"  hybrid -> LSTM head     PublicTest acc {lstm_acc:.4f}  ratio {lstm_acc / net_acc:.3f}"
        f"  (tokens {T_train.shape[1:]}, {lstm.n_epochs_} epochs, best {lstm.best_epoch_}, "
        f"{time.perf_counter() - t:.0f} s)"
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("HYBRIDFER_DATA_FER2013"))
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=20.0,
        help="training budget per network (default 20)",
    )
    parser.add_argument(
        "--max-train",
        type=int,
        default=None,
        help="use a stratified random subset of Training of this size",
    )
    parser.add_argument("--nets", default="cnnlstm_model3,fer_resnet")
    parser.add_argument("--xgb-trees", type=int, default=200)
    parser.add_argument(
        "--head-minutes", type=float, default=3.0, help="time limit of the LSTM head's training"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=0, help="1: live progress per epoch")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data = Path(args.data) if args.data else data_root() / "fer2013"
    t = time.perf_counter()
    ds = load_fer2013(data, usages=["Training", "PublicTest"], n_jobs=args.threads)
    train, test = usage_split(ds)
    if args.max_train is not None and args.max_train < len(train):
        from sklearn.model_selection import train_test_split

        keep, _ = train_test_split(
            np.arange(len(train)),
            train_size=args.max_train,
            stratify=train.labels,
            random_state=args.seed,
        )
        train = train.subset(np.sort(keep))
    print(
        f"FER2013 Training {len(train):,} -> PublicTest {len(test):,} images "
        f"(loaded in {time.perf_counter() - t:.0f} s); device {device}, "
        f"{torch.get_num_threads()} threads, budget {args.budget_minutes:g} min per network"
    )
    summary = [run_network(a.strip(), train, test, args, device) for a in args.nets.split(",")]
    print("\nPublicTest accuracy (ratio to the network's own softmax)")
    print(f"{'network':<16}{'epochs':>7}{'softmax':>10}{'->WNXGB':>16}{'->LSTM head':>16}")
    for r in summary:
        print(
            f"{r['arch']:<16}{r['epochs']:>7}{r['network']:>10.4f}"
            f"{r['wnxgb']:>9.4f} ({r['wnxgb'] / r['network']:.3f})"
            f"{r['lstm']:>9.4f} ({r['lstm'] / r['network']:.3f})"
        )


if __name__ == "__main__":
    main()
