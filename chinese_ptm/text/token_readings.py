"""Which character of which text each token reads: the texts of one tokenizer call as fed to WordPiece
(normalised) and as read for pinyin (original), and the reading index of every token.  [no torch]"""

from __future__ import annotations

from itertools import chain

import numpy as np

from .normalize import normalize, replace_lone_surrogates
from .token_batch import positions_in_rows


class Segments:
    """The texts of one call, as fed to WordPiece and as read for pinyin.

    A *piece* is one string given by the user (a text, or one word of a pre-split text). Each
    sample has one or two *segments* (text, pair); a segment is read as the concatenation of its
    pieces. All pieces' readings live in one flat array; ``piece_base`` is where each piece starts.
    """

    def __init__(self, items_a: list, items_b: list | None, split: bool, normalise: bool, cut: bool = False):
        self.split = split
        # cut: the pieces are one text cut by a word tokenizer, not the user's words: offsets point into the text,
        # and a token of several characters (a word) reads its first character
        self.cut = cut
        self.n = len(items_a)
        self.pair = items_b is not None
        self.segments: list[list[str]] = []  # segment -> its pieces (original text)
        for items in (items_a, items_b) if items_b is not None else (items_a,):
            for item in items:
                pieces = list(item) if split else [item]
                self.segments.append([replace_lone_surrogates(p) for p in pieces])
        self.normalised = [[normalize(p) for p in seg] for seg in self.segments] if normalise else None

    def fed(self) -> tuple[list, list | None]:
        source = [[p.text for p in seg] for seg in self.normalised] if self.normalised else self.segments
        fed: list = source if self.split else [seg[0] for seg in source]
        return fed[: self.n], (fed[self.n :] if self.pair else None)

    @staticmethod
    def _token_spans(encodings, sample_of, aligned, cps, seg_base, seg_len):
        """(spans (N, 2) of every token in its fed text, tokens per encoding)."""
        lengths = np.array([len(e) for e in encodings], dtype=np.int64)
        total = int(lengths.sum())
        spans = np.zeros((total, 2), dtype=np.int64)
        slow = np.ones(len(encodings), dtype=bool)
        if aligned is not None and total:
            one_token, keep = aligned
            bad = np.concatenate(([0], np.cumsum(~one_token[cps])))
            simple = bad[seg_base[:-1] + seg_len] == bad[seg_base[:-1]]  # per segment (= sample)
            slow = ~simple[sample_of]
            # token 1 + i is character i, for the characters the text keeps after truncation
            token = positions_in_rows(lengths)
            kept = np.repeat(np.minimum(seg_len[sample_of], keep), lengths)
            inside = (token >= 1) & (token <= kept) & np.repeat(~slow, lengths)
            spans[inside, 0] = token[inside] - 1
            spans[inside, 1] = token[inside]
        if slow.any():
            slow_encodings = [e for e, s in zip(encodings, slow.tolist()) if s]
            n_slow = int(lengths[slow].sum())
            spans[np.repeat(slow, lengths)] = np.fromiter(
                chain.from_iterable(chain.from_iterable(e.offsets for e in slow_encodings)),
                dtype=np.int64,
                count=2 * n_slow,
            ).reshape(n_slow, 2)
        return spans, lengths

    def _piece_starts(self, seg_base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(index of each segment's first piece, where each piece's original text starts in the flat arrays)."""
        pieces_per_segment = np.fromiter(map(len, self.segments), dtype=np.int64, count=len(self.segments))
        piece_first = np.concatenate(([0], np.cumsum(pieces_per_segment)))
        if not self.split:  # one piece per segment (one numpy pass: a cumsum per text cost as much as WordPiece)
            return piece_first, seg_base[:-1]
        # a piece starts at its segment's start plus the pieces before it in the segment
        piece_len = np.fromiter(
            (len(p) for seg in self.segments for p in seg), dtype=np.int64, count=int(piece_first[-1])
        )
        before = np.cumsum(piece_len) - piece_len
        segment_of = np.repeat(np.arange(len(self.segments)), pieces_per_segment)
        return piece_first, seg_base[segment_of] + before - before[piece_first[segment_of]]

    def _original_offsets(self, starts, ends, piece, live) -> tuple[np.ndarray, np.ndarray]:
        """Token offsets in the original texts: the fed ones, mapped back where normalisation changed a length
        (an ellipsis became three dots)."""
        orig_start, orig_end = starts.copy(), ends.copy()
        if self.normalised is None or all(len(p.text) == len(p.original) for seg in self.normalised for p in seg):
            return orig_start, orig_end
        maps = [p.source_index for seg in self.normalised for p in seg]
        fed_base = np.cumsum([0] + [len(m) for m in maps])
        src = np.concatenate(maps + [np.zeros(1, dtype=np.int64)])
        idx = np.flatnonzero(live)
        base = fed_base[piece[idx]]
        orig_start[idx] = src[base + starts[idx]]
        orig_end[idx] = src[base + ends[idx] - 1] + 1
        return orig_start, orig_end

    def pinyin_ids(self, encodings, sample_of, engine, aligned, want_offsets: bool, token_spans=None):
        """The reading index of every token of all encodings, and the original offsets when
        asked for. ``aligned``: ``(one_token_chars, keep)`` when texts made only of one-token
        characters may skip reading offsets back (see ``one_token_chars``); ``token_spans``:
        ``(spans, lengths)`` of the tokens when already known (single texts, no pairs)."""
        segment_texts = ["".join(seg) for seg in self.segments]
        seg_len = np.array([len(t) for t in segment_texts], dtype=np.int64)
        seg_base = np.concatenate(([0], np.cumsum(seg_len + 1)))  # texts are joined with one "\n"
        flat_readings, cps = engine.joined_readings(segment_texts)
        piece_first, piece_base = self._piece_starts(seg_base)

        if token_spans is not None:  # known already (encode_arrays' direct path)
            spans, lengths = token_spans
        else:
            spans, lengths = self._token_spans(encodings, sample_of, aligned, cps, seg_base, seg_len)
        total = int(lengths.sum())
        starts, ends = spans[:, 0], spans[:, 1]
        samples = np.repeat(sample_of, lengths)
        segment = samples.copy()
        if self.pair:  # tokens of the second text read from the sample's second segment
            seq = np.fromiter(
                (-1 if s is None else s for e in encodings for s in e.sequence_ids), dtype=np.int64, count=total
            )
            segment = np.where(seq == 1, samples + self.n, samples)
        piece = piece_first[segment]
        if self.split:
            words = np.fromiter(
                (0 if w is None else w for e in encodings for w in e.word_ids), dtype=np.int64, count=total
            )
            piece = piece + words
        live = ends > starts
        orig_start, orig_end = self._original_offsets(starts, ends, piece, live)
        single = live & ((orig_end - orig_start == 1) | self.cut)
        reading = np.zeros(total, dtype=np.int64)
        where = np.flatnonzero(single)
        reading[where] = flat_readings[piece_base[piece[where]] + orig_start[where]]
        pinyin = reading  # (total,) row of the tokenizer's reading table
        offsets = None
        if want_offsets:
            if self.cut:  # within the piece -> within the text
                within = piece_base[piece] - seg_base[segment]
                offsets = np.stack([orig_start + within, orig_end + within], axis=1)
            elif self.split or self.normalised is not None:
                offsets = np.stack([orig_start, orig_end], axis=1)
            else:
                offsets = spans
            offsets = np.where(live[:, None], offsets, 0)
        return pinyin, offsets
