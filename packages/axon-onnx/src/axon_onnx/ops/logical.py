"""Comparisons, boolean logic and selection: Equal, Greater, Less, Not, And, Or, Xor, Where, IsNaN."""

from __future__ import annotations

import numpy as np

from axon_autograd import where as _where

from ..registry import register
from ._util import const


@register("Equal")
def equal(node, a, b):
    return a == b


@register("Greater")
def greater(node, a, b):
    return a > b


@register("Less")
def less(node, a, b):
    return a < b


@register("GreaterOrEqual")
def greater_or_equal(node, a, b):
    return a >= b


@register("LessOrEqual")
def less_or_equal(node, a, b):
    return a <= b


@register("Not", since=1)
def not_(node, x):
    return ~x


@register("And", since=7)
def and_(node, a, b):
    return a & b


@register("Or", since=7)
def or_(node, a, b):
    return a | b


@register("Xor", since=7)
def xor(node, a, b):
    return a ^ b


@register("Where")
def where(node, condition, a, b):
    return _where(condition, a, b)


@register("IsNaN")
def is_nan(node, x):
    return x.isnan()


@register("IsInf", attrs=("detect_negative", "detect_positive"))
def is_inf(node, x):
    negative, positive = node.get("detect_negative", 1), node.get("detect_positive", 1)
    if negative and positive:
        return x.isinf()
    if positive:
        return x.isposinf()
    if negative:
        return x.isneginf()
    return const(node, np.zeros(x.shape, dtype=bool))
