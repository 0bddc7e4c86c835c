"""Numbers the papers state about their data, kept as cited *targets* to compare our counts against."""

from __future__ import annotations

# P1 Table 1: FER2013 whole-dataset counts per class.
P1_TABLE1_FER2013 = {"Angry": 4953, "Disgust": 547, "Fear": 5121, "Happy": 8989, "Neutral": 6198,
                     "Sad": 6077, "Surprise": 4002}
# P1 Table 2: the authors' AffectNet subset (stated total 22,244).
P1_TABLE2_AFFECTNET = {"Angry": 3434, "Disgust": 3233, "Fear": 2961, "Happy": 3325, "Neutral": 2374,
                       "Sad": 2793, "Surprise": 4124}
P1_TABLE2_STATED_TOTAL = 22244
# P1 Table 3: combined FER2013 + AffectNet after "filtering and sub-sampling" (stated total 38,550).
P1_TABLE3_COMBINED = {"Angry": 5992, "Disgust": 3900, "Fear": 5589, "Happy": 5568, "Neutral": 5894,
                      "Sad": 5661, "Surprise": 5946}
P1_TABLE3_STATED_TOTAL = 38550
# P1 Table 4: train / val / test / total as printed.
P1_TABLE4 = {
    "FER2013": {"train": 31709, "val": 3589, "test": 3589, "total": 38887},
    "AffectNet": {"train": 17793, "val": 2202, "test": 2229, "total": 22224},
    "FER+AffectNet": {"train": 31671, "val": 3379, "test": 3500, "total": 38550},
}
# P1 Table 4 / text: the combined test set holds 500 images per class.
P1_COMBINED_TEST_PER_CLASS = 500

# Official FER2013 Usage sizes (Kaggle release; also stated by P3: 28,709 training, 7,178 test).
FER2013_OFFICIAL_SPLITS = {"Training": 28709, "PublicTest": 3589, "PrivateTest": 3589}
FER2013_TOTAL = 35887

# P3 "Data": resampling plan (disgust up to 6x, surprise +20%, drop 20% of happy).
P3_RESAMPLE_FACTORS = {"Disgust": 6.0, "Surprise": 1.2, "Happy": 0.8}
# P3 Table 1: test supports of the class-weighted model (Kaggle test folder = PublicTest + PrivateTest).
P3_TABLE1_TEST_SUPPORT = {"Angry": 958, "Disgust": 111, "Fear": 1024, "Happy": 1774, "Sad": 1247,
                          "Surprise": 831, "Neutral": 1233}

# P2 "Data": RAF-DB basic split sizes and the training fear / happiness counts.
P2_RAFDB = {"train": 12271, "test": 3068, "train_Fear": 281, "train_Happy": 4772}

# P3 Table 1: classification report of the class-weighted model (precision, recall, F1, support).
P3_TABLE1_REPORT = {
    "Angry": (0.48, 0.37, 0.42, 958), "Disgust": (0.64, 0.51, 0.57, 111), "Fear": (0.42, 0.42, 0.42, 1024),
    "Happy": (0.73, 0.73, 0.73, 1774), "Sad": (0.42, 0.43, 0.43, 1247), "Surprise": (0.74, 0.72, 0.73, 831),
    "Neutral": (0.46, 0.55, 0.50, 1233),
}
# P3 Table 1: the average rows (precision, recall, F1).
P3_TABLE1_AVERAGES = {"macro avg": (0.56, 0.53, 0.54), "weighted avg": (0.55, 0.55, 0.55)}
# P3 Table 1's F1 column of the summary rows: the accuracy row, and the averages' F1 (derived, not retyped).
P3_TABLE1_SUMMARY = {"accuracy": 0.55, **{name: row[2] for name, row in P3_TABLE1_AVERAGES.items()}}
