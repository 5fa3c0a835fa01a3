"""A small drawing of a ViT as configured: image -> patches -> tokens -> L blocks -> head."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

INK, MUTED = QColor("#263238"), QColor("#607d8b")
PATCH, TOKEN, PREFIX, BLOCK, HEAD = (QColor(c) for c in ("#bbdefb", "#90caf9", "#ffcc80", "#c5e1a5", "#f8bbd0"))


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
        fm = p.fontMetrics()
        line = fm.height()
        captions = 3 * line + 6  # up to three caption lines under each piece
        top, bottom = 8, self.height() - captions - 8
        mid, gap = (top + bottom) / 2, 26
        usable = self.width() - 16 - 3 * gap
        img_side = min(bottom - top, 0.16 * usable)
        token_w, block_w = 0.30 * usable, 0.24 * usable
        head_w = usable - img_side - token_w - block_w
        under = bottom + 6

        x = 8.0
        self._image(p, QRectF(x, mid - img_side / 2, img_side, img_side), s)
        self._caption(
            p,
            QRectF(x - 6, under, img_side + 12, captions),
            [f"{s.img_size}x{s.img_size} image", s.stem or f"{s.grid[0]}x{s.grid[1]} patches of {s.patch_size} px"],
        )
        x = self._arrow(p, x + img_side, gap, mid)

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

        text = fm.boundingRect(0, 0, int(head_w) - 12, 1000, Qt.TextWordWrap, s.head)
        box_h = min(max(3 * line, text.height() + 12), bottom - top)
        box = QRectF(x, mid - box_h / 2, head_w, box_h)
        self._box(p, box, HEAD)
        p.setPen(INK)
        p.drawText(box.adjusted(6, 4, -6, -4), Qt.AlignCenter | Qt.TextWordWrap, s.head)
        self._caption(p, QRectF(x, under, head_w, captions), ["head"])
        p.end()

    # -- pieces -------------------------------------------------------------------------------

    def _image(self, p: QPainter, r: QRectF, s: Shape) -> None:
        self._box(p, r, PATCH)
        gh, gw = s.grid
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
        p.setPen(MUTED)
        fm = p.fontMetrics()
        text = "\n".join(fm.elidedText(t, Qt.ElideRight, int(r.width())) for t in lines)
        p.drawText(r, Qt.AlignHCenter | Qt.AlignTop, text)
