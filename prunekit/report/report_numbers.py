"""The assignment report's own published numbers, for side-by-side comparison.

Transcribed from the assignment report (one student's single runs of Synaptic-Flow's
code on a shared GPU server, a single run per cell); this module is the kit's only copy of
them. Keys are the kit's pruner names; compressions are compression exponents ``a``
(density 10^-a).

- :data:`TABLE_1_1`: section 1.1, top-1 test accuracy (%) at compression 1, per (dataset, model).
- :data:`TABLE_1_2_1`: section 1.2.1, VGG16/CIFAR-10 top-1 accuracy (%) per compression.
- :data:`TABLE_1_2_2`: section 1.2.2, VGG16/CIFAR-10 test time (s, one pass over the test set).
- :data:`TABLE_1_2_3`: section 1.2.3, VGG16/CIFAR-10 FLOP ratio (remaining / 313,478,154).
- :data:`TABLE_2_2`: section 2.2, VGG16 per-layer weight FLOPs at compression 0.5 (``unpruned`` and per pruner).

Example:
    >>> TABLE_1_1[("mnist", "fc")]["synflow"]
    11.35
    >>> TABLE_1_2_3[2.0]["grasp"]
    0.0586
"""

from __future__ import annotations

__all__ = ["PRUNERS", "TABLE_1_1", "TABLE_1_2_1", "TABLE_1_2_2", "TABLE_1_2_3", "TABLE_2_2", "VGG16_DENSE_FLOPS"]

PRUNERS = ("rand", "mag", "snip", "grasp", "synflow")
VGG16_DENSE_FLOPS = 313_478_154


def _rows(*values: tuple[float, ...]) -> list[dict[str, float]]:
    return [dict(zip(PRUNERS, row)) for row in values]


TABLE_1_1: dict[tuple[str, str], dict[str, float]] = dict(
    zip(
        [("cifar10", "vgg16"), ("mnist", "fc")],
        _rows((10.00, 89.73, 87.10, 83.66, 88.39), (95.77, 97.68, 96.99, 95.99, 11.35)),
    )
)

_COMPRESSIONS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)

TABLE_1_2_1: dict[float, dict[str, float]] = dict(
    zip(
        _COMPRESSIONS,
        _rows(
            (88.08, 88.69, 88.20, 79.03, 88.05),
            (87.51, 89.47, 88.17, 72.34, 88.16),
            (88.16, 89.36, 87.87, 78.87, 88.50),
            (86.80, 89.95, 88.55, 80.86, 87.14),
            (10.00, 88.88, 87.77, 81.46, 87.83),
            (10.00, 42.61, 81.55, 82.72, 10.00),
        ),
    )
)

TABLE_1_2_2: dict[float, dict[str, float]] = dict(
    zip(
        _COMPRESSIONS,
        _rows(
            (0.608, 0.658, 0.583, 0.624, 0.828),
            (0.689, 0.598, 0.674, 0.709, 0.763),
            (0.694, 0.646, 0.702, 0.580, 0.714),
            (0.613, 0.700, 0.672, 0.609, 0.714),
            (0.630, 0.666, 0.705, 0.705, 0.640),
            (0.627, 0.713, 0.605, 0.794, 0.679),
        ),
    )
)

TABLE_1_2_3: dict[float, dict[str, float]] = dict(
    zip(
        _COMPRESSIONS,
        _rows(
            (0.8916, 0.9477, 0.9377, 0.8201, 0.9488),
            (0.7945, 0.8991, 0.9268, 0.7295, 0.9026),
            (0.6310, 0.8151, 0.7812, 0.5711, 0.8217),
            (0.3165, 0.5634, 0.4622, 0.3781, 0.6423),
            (0.1009, 0.2283, 0.1979, 0.1751, 0.4571),
            (0.0108, 0.0322, 0.0411, 0.0586, 0.1845),
        ),
    )
)

_LAYER_ROWS = {
    "layers.0.conv": (1769472, 541695, 1501183, 1704960, 985088, 1765376),
    "layers.1.conv": (37748736, 11867135, 27796479, 29917183, 18281471, 37137408),
    "layers.3.conv": (18874368, 5992704, 14198528, 12952831, 8534271, 18300928),
    "layers.4.conv": (37748736, 11856127, 28079361, 20818944, 15328512, 35502079),
    "layers.6.conv": (18874368, 5943296, 14003136, 9233535, 7212287, 16645631),
    "layers.7.conv": (37748736, 11949055, 27708608, 14927487, 13233983, 28944256),
    "layers.8.conv": (37748736, 11956288, 27095935, 16215359, 14178047, 28932671),
    "layers.10.conv": (18874368, 5974976, 13638895, 7740864, 6951488, 10316815),
    "layers.11.conv": (37748736, 11935391, 20104512, 11484336, 12541855, 8774719),
    "layers.12.conv": (37748736, 11964463, 8695023, 12011791, 13159455, 8783952),
    "layers.14.conv": (9437184, 2980576, 1030796, 3001123, 2925716, 1995555),
    "layers.15.conv": (9437184, 2982560, 749572, 2290064, 2429731, 1996460),
    "layers.16.conv": (9437184, 2982684, 1139607, 2320448, 2471884, 1982292),
    "fc": (5120, 1620, 2201, 4572, 2810, 5107),
}

TABLE_2_2: dict[str, dict[str, int]] = {
    module: dict(zip(("unpruned", *PRUNERS), values)) for module, values in _LAYER_ROWS.items()
}
