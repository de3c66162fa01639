# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one version parser of the collection: kernel releases, tool versions, distribution releases.

Pure, no imports beyond typing: the modules ship it to managed nodes (Python 3.8+).
"""

from __future__ import annotations

from typing import Optional, Tuple


def version_tuple(version: Optional[str]) -> Optional[Tuple[int, int, int]]:
    """``"6.1.0-18-amd64"`` -> (6, 1, 0); ``"v1.31.2+k3s1"`` -> (1, 31, 2); ``"1.8"`` -> (1, 8, 0).

    The leading ``v`` and anything after the first ``-`` or ``+`` are ignored; up to three numeric components are
    read, each up to its first non-digit (``"1.0.6rc1"`` -> (1, 0, 6)); missing components are 0. None when the text
    does not start with a number (None, empty, ``"unknown"``, a non-string).
    """
    if not isinstance(version, str):
        return None
    text = version.strip()
    if text[:1] in ('v', 'V'):
        text = text[1:]
    text = text.split('-', 1)[0].split('+', 1)[0]
    parts = []
    for piece in text.split('.')[:3]:
        digits = ''
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) != len(piece):
            break
    if not parts:
        return None
    while len(parts) < 3:
        parts.append(0)
    return (parts[0], parts[1], parts[2])


def at_least(version: Optional[str], minimum: str) -> Optional[bool]:
    """Whether ``version`` >= ``minimum``; None when ``version`` cannot be read."""
    have = version_tuple(version)
    want = version_tuple(minimum)
    if have is None or want is None:
        return None
    return have >= want
