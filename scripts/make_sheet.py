"""Build the printable paper-sheet target of the webcam demo: demos/data/sheet/.

A 180 x 240 mm picture (four public-domain / CC0 photos from scikit-image and a title), rich in
texture for local features, and an A4 PDF that prints it at exact size (it fits on US letter too).

    python scripts/make_sheet.py          # needs scikit-image (pip install 'rigidpose[bench]')
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data

OUT = Path(__file__).resolve().parent.parent / "demos" / "data" / "sheet"
DPI = 150
WIDTH_MM, HEIGHT_MM = 180, 240
PAGE_MM = (210, 297)  # A4


def px(mm: float) -> int:
    return round(mm / 25.4 * DPI)


def fill(photo: np.ndarray, width: int, height: int) -> np.ndarray:
    """``photo`` (RGB or gray) cropped to the aspect ratio and resized to width x height, BGR."""
    if photo.ndim == 2:
        photo = np.stack([photo] * 3, axis=-1)
    h, w = photo.shape[:2]
    scale = max(width / w, height / h)
    crop_w, crop_h = round(width / scale), round(height / scale)
    x, y = (w - crop_w) // 2, (h - crop_h) // 2
    patch = photo[y : y + crop_h, x : x + crop_w]
    return cv2.cvtColor(cv2.resize(patch, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2BGR)


def sheet() -> np.ndarray:
    width, height = px(WIDTH_MM), px(HEIGHT_MM)
    image = np.full((height, width, 3), 245, np.uint8)
    title_h, gap = px(30), px(4)
    cv2.putText(
        image,
        "rigidpose",
        (gap * 2, title_h - px(8)),
        cv2.FONT_HERSHEY_TRIPLEX,
        3.2,
        (40, 40, 40),
        5,
        cv2.LINE_AA,
    )
    cv2.putText(
        image, "sample target  180 x 240 mm", (width - px(68), title_h - px(9)),
        cv2.FONT_HERSHEY_SIMPLEX, 0.9, (90, 90, 90), 2, cv2.LINE_AA,
    )  # fmt: skip
    photos = [data.rocket(), data.astronaut(), data.coffee(), data.chelsea()]
    cell_w = (width - 3 * gap) // 2
    cell_h = (height - title_h - 3 * gap) // 2
    for k, photo in enumerate(photos):
        row, col = divmod(k, 2)
        x, y = gap + col * (cell_w + gap), title_h + gap + row * (cell_h + gap)
        image[y : y + cell_h, x : x + cell_w] = fill(photo, cell_w, cell_h)
    cv2.rectangle(image, (0, 0), (width - 1, height - 1), (0, 0, 0), 3)
    return image


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    picture = sheet()
    cv2.imwrite(str(OUT / "sheet.jpg"), picture, [cv2.IMWRITE_JPEG_QUALITY, 93])
    page = np.full((px(PAGE_MM[1]), px(PAGE_MM[0]), 3), 255, np.uint8)
    x, y = (page.shape[1] - picture.shape[1]) // 2, px(15)
    page[y : y + picture.shape[0], x : x + picture.shape[1]] = picture
    for k, line in enumerate(
        (
            "Print at 100 % (no 'fit to page'). The picture must measure 180 mm wide.",
            "If yours measures otherwise, pass it: python demos/webcam_sheet.py --width-m 0.178",
        )
    ):
        cv2.putText(page, line, (x, y + picture.shape[0] + px(10) + k * px(6)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.62, (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
    Image.fromarray(cv2.cvtColor(page, cv2.COLOR_BGR2RGB)).save(OUT / "sheet-a4.pdf", resolution=DPI)
    print(f"wrote {OUT / 'sheet.jpg'} ({picture.shape[1]}x{picture.shape[0]} px) and {OUT / 'sheet-a4.pdf'}")


if __name__ == "__main__":
    main()
