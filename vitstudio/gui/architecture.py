"""A small drawing of a ViT as configured: image (-> CNN stem) -> patches -> tokens -> L blocks -> head(s).

A hybrid's CNN gets its own box, a DeiT its distillation head beside the class head, and an MAE's hidden
patches are greyed out on the image. What each paint wrote is kept in `texts`, and the hidden patches in
`hidden`, so tests can read the drawing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

INK, MUTED = QColor("#263238"), QColor("#607d8b")
PATCH, TOKEN, PREFIX, BLOCK, HEAD, STEM = (
    QColor(c) for c in ("#bbdefb", "#90caf9", "#ffcc80", "#c5e1a5", "#f8bbd0", "#d1c4e9")
)
HIDDEN = QColor("#9e9e9e")
DISTILLATION_HEAD = "distillation token → Linear → the teacher's labels"


@dataclass
class Shape:
    """What the drawing shows; `stem` names a CNN that makes the tokens (hybrid), `head` the output."""

    img_size: int = 32
    patch_size: int = 4
    grid: tuple[int, int] = (8, 8)
    prefix: tuple[str, ...] = ("cls",)
    visible: int = 64  # patch tokens the encoder reads (fewer than the grid's for MAE)
    embed_dim: int = 192
    depth: int = 12
    num_heads: int = 3
    mlp_hidden: int = 768
    stem: str = ""
    head: str = "Linear → 10 classes"


class ArchitectureView(QWidget):
    """Redrawn from a `Shape` whenever the form changes (`set_shape`)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.shape = Shape()
        self.texts: list[str] = []  # the labels and captions the last paint wrote, as written (elided if need be)
        self.hidden: list[tuple[int, int]] = []  # the patches greyed out as hidden (MAE), (row, column)
        self.setMinimumSize(560, 280)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)

    def set_shape(self, shape: Shape | None) -> None:
        self.shape = shape
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.fillRect(self.rect(), QColor("white"))
        if self.shape is None:
            p.setPen(MUTED)
            p.drawText(self.rect(), Qt.AlignCenter, "fix the model settings to see its drawing")
            return
        s = self.shape
        self.texts, self.hidden = [], []
        fm = p.fontMetrics()
        line = fm.height()
        captions = 3 * line + 6  # up to three caption lines under each piece
        top, bottom = 8, self.height() - captions - 8
        mid, gap = (top + bottom) / 2, 26
        usable = self.width() - 16 - (4 if s.stem else 3) * gap
        shares = (0.13, 0.15, 0.24, 0.21) if s.stem else (0.16, 0.0, 0.30, 0.24)  # image, stem, tokens, blocks
        img_side = min(bottom - top, shares[0] * usable)
        stem_w, token_w, block_w = (share * usable for share in shares[1:])
        head_w = usable - img_side - stem_w - token_w - block_w
        under = bottom + 6
        patches = [f"{s.grid[0]}x{s.grid[1]} patches", f"of {s.patch_size} px"]

        x = 8.0
        self._image(p, QRectF(x, mid - img_side / 2, img_side, img_side), s)
        self._caption(
            p,
            QRectF(x - 6, under, img_side + 12, captions),
            [f"{s.img_size}x{s.img_size} image", *([] if s.stem else patches)],
        )
        x = self._arrow(p, x + img_side, gap, mid)

        if s.stem:  # a hybrid: the CNN's feature map is what is cut into patches
            self._labelled_box(p, QRectF(x, mid - 2 * line, stem_w, 4 * line), STEM, s.stem, bottom - top)
            self._caption(p, QRectF(x - 6, under, stem_w + 12, captions), ["feature map:", *patches])
            x = self._arrow(p, x + stem_w, gap, mid)

        self._tokens(p, QRectF(x, mid - 0.5 * line - 6, token_w, line + 12), s)
        n = s.grid[0] * s.grid[1]
        lines = [f"{s.visible}{f' + {len(s.prefix)}' if s.prefix else ''} tokens", f"of width {s.embed_dim}"]
        if s.visible < n:
            lines.append(f"{n - s.visible} of {n} patches hidden")
        self._caption(p, QRectF(x, under, token_w, captions), lines)
        x = self._arrow(p, x + token_w, gap, mid)

        self._blocks(p, QRectF(x, top + 6, block_w, bottom - top - 6), s)
        self._caption(
            p,
            QRectF(x, under, block_w, captions),
            [f"{s.num_heads} heads", f"MLP {s.embed_dim}-{s.mlp_hidden}-{s.embed_dim}"],
        )
        x = self._arrow(p, x + block_w, gap, mid)

        if "dist" in s.prefix:  # DeiT: the class token's head and the distillation token's, one above the other
            room = (bottom - top - 8) / 2
            self._labelled_box(p, QRectF(x, top, head_w, room), HEAD, s.head, room)
            self._labelled_box(p, QRectF(x, top + room + 8, head_w, room), HEAD, DISTILLATION_HEAD, room)
            self._caption(p, QRectF(x, under, head_w, captions), ["two heads (averaged at test time)"])
        else:
            self._labelled_box(p, QRectF(x, mid - 1.5 * line, head_w, 3 * line), HEAD, s.head, bottom - top)
            self._caption(p, QRectF(x, under, head_w, captions), ["head"])
        p.end()

    # -- pieces -------------------------------------------------------------------------------

    def _image(self, p: QPainter, r: QRectF, s: Shape) -> None:
        self._box(p, r, PATCH)
        gh, gw = s.grid
        hidden = max(gh * gw - s.visible, 0)  # MAE: the patches the encoder does not see, as one random mask
        for k in sorted(random.Random(0).sample(range(gh * gw), hidden)):
            i, j = divmod(k, gw)
            self.hidden.append((i, j))
            cell = QRectF(r.left() + r.width() * j / gw, r.top() + r.height() * i / gh, r.width() / gw, r.height() / gh)
            p.fillRect(cell, HIDDEN)
        if s.stem:  # the patches are cut from the CNN's feature map, not from the image
            return
        p.setPen(QPen(QColor("#1565c0"), 1))
        step_h, step_w = max(1, gh // 16), max(1, gw // 16)  # at most 16 lines a side
        for i in range(step_h, gh, step_h):
            y = r.top() + r.height() * i / gh
            p.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
        for j in range(step_w, gw, step_w):
            x = r.left() + r.width() * j / gw
            p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))

    def _tokens(self, p: QPainter, r: QRectF, s: Shape) -> None:
        names = list(s.prefix) + ["1", "2", "3", "…", str(s.visible)]
        cell = r.width() / len(names)
        for i, name in enumerate(names):
            c = QRectF(r.left() + i * cell + 1, r.top(), cell - 2, r.height())
            if name == "…":
                p.setPen(INK)
                p.drawText(c, Qt.AlignCenter, name)
                continue
            self._box(p, c, PREFIX if i < len(s.prefix) else TOKEN, radius=3)
            p.setPen(INK)
            p.drawText(c, Qt.AlignCenter, p.fontMetrics().elidedText(name, Qt.ElideRight, int(c.width()) - 2))

    def _blocks(self, p: QPainter, r: QRectF, s: Shape) -> None:
        shadows = min(s.depth - 1, 3)
        for i in range(shadows, 0, -1):  # a stack: the deeper, the more cards behind
            card = r.adjusted(4 * i, -4 * i + 4 * shadows, 4 * i - 4 * shadows, -4 * i)
            self._box(p, card, BLOCK.darker(100 + 8 * i))
        front = r.adjusted(0, 4 * shadows, -4 * shadows, 0)
        self._box(p, front, BLOCK)
        p.setPen(INK)
        bold = QFont(p.font())
        bold.setBold(True)
        p.setFont(bold)
        p.drawText(
            front.adjusted(4, 4, -4, -front.height() / 2), Qt.AlignHCenter | Qt.AlignBottom, f"{s.depth} x block"
        )
        p.setFont(self.font())
        p.drawText(
            front.adjusted(4, front.height() / 2, -4, -4),
            Qt.AlignHCenter | Qt.AlignTop | Qt.TextWordWrap,
            "LN, attention, LN, MLP",
        )

    def _labelled_box(self, p: QPainter, r: QRectF, fill: QColor, text: str, max_h: float) -> None:
        """A box around `text`, wrapped to its width and as tall as the text needs (up to `max_h`), centred on `r`."""
        need = p.fontMetrics().boundingRect(0, 0, int(r.width()) - 12, 1000, Qt.TextWordWrap, text).height() + 12
        h = min(max(r.height(), need), max_h)
        box = QRectF(r.left(), r.center().y() - h / 2, r.width(), h)
        self._box(p, box, fill)
        p.setPen(INK)
        p.drawText(box.adjusted(6, 4, -6, -4), Qt.AlignCenter | Qt.TextWordWrap, text)
        self.texts.append(text)

    def _box(self, p: QPainter, r: QRectF, fill: QColor, radius: float = 6) -> None:
        path = QPainterPath()
        path.addRoundedRect(r, radius, radius)
        p.fillPath(path, fill)
        p.setPen(QPen(fill.darker(140), 1))
        p.drawPath(path)

    def _arrow(self, p: QPainter, x: float, gap: float, y: float) -> float:
        """An arrow across the `gap` after `x`; returns where the next piece starts."""
        x0, x1 = x + 4, x + gap - 4
        p.setPen(QPen(MUTED, 2))
        p.drawLine(QPointF(x0, y), QPointF(x1, y))
        p.drawLine(QPointF(x1, y), QPointF(x1 - 6, y - 4))
        p.drawLine(QPointF(x1, y), QPointF(x1 - 6, y + 4))
        return x + gap

    def _caption(self, p: QPainter, r: QRectF, lines: list[str]) -> None:
        """Lines under a piece, as wide as the piece and the gaps beside it, wrapped at spaces; elided only
        when they would need more than the caption's three lines."""
        p.setPen(MUTED)
        fm = p.fontMetrics()
        r = r.adjusted(-10, 0, 10, 0)
        text = "\n".join(lines)
        if fm.boundingRect(r.toRect(), Qt.AlignHCenter | Qt.TextWordWrap, text).height() > 3 * fm.height():
            lines = [fm.elidedText(t, Qt.ElideRight, int(r.width())) for t in lines]
            text = "\n".join(lines)
        self.texts.extend(lines)
        p.drawText(r, Qt.AlignHCenter | Qt.AlignTop | Qt.TextWordWrap, text)
