"""``@workflow`` and ``@step``: option checking at decoration time, then wrapt wrapping.

Every option is validated once, when the decorator is applied, with an error naming the
problem; nothing about the options is re-checked per call.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar, overload

import wrapt

from otel_workflow import semconv, settings
from otel_workflow._drivers import Instrumented
from otel_workflow._threads import ensure_context_propagation
from otel_workflow.capture import CaptureLimits

F = TypeVar("F", bound=Callable[..., Any])

_logger = logging.getLogger("otel_workflow")

ENV_CAPTURE = settings.CAPTURE.name


def _capture_from_env() -> tuple[bool, bool]:
    return settings.CAPTURE.get()  # an invalid value warns once, not once per decorator


def _capture_option(decorator: str, capture: bool | str | None) -> tuple[bool, bool]:
    if capture is None:
        return _capture_from_env()
    if isinstance(capture, bool):
        return capture, capture
    if isinstance(capture, str) and capture.lower() in ("args", "result", "all", "none"):
        return settings.parse_capture(capture)
    raise ValueError(
        f"{decorator}: capture must be True, False, 'args', 'result', 'all' or 'none', "
        f"got {capture!r}"
    )


def _check_name(decorator: str, option: str, value: object) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise TypeError(f"{decorator}: {option} must be a non-empty string, got {value!r}")


def _target_function(decorator: str, func: object) -> Callable[..., Any]:
    if isinstance(func, (classmethod, staticmethod)):
        return func.__func__  # type: ignore[no-any-return]
    if isinstance(func, type):
        raise TypeError(
            f"{decorator} decorates functions and methods, not the class {func.__name__}; "
            "use ow.instrument(cls) to turn a class's methods into steps"
        )
    if not callable(func):
        raise TypeError(f"{decorator} must decorate a callable, got {type(func).__name__}")
    return func


def _default_name(func: Callable[..., Any]) -> str:
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)


def _wrap(instrumented: Instrumented, original: Any, target: Callable[..., Any]) -> Any:
    """Pick the call path once, from what the function is."""
    ensure_context_propagation()
    function = inspect.unwrap(target)
    wrapper: Callable[..., Any]
    if inspect.isasyncgenfunction(function):
        wrapper = instrumented.call_async_generator
    elif inspect.iscoroutinefunction(function):
        plain = instrumented.is_plain_step
        wrapper = instrumented.call_async_step if plain else instrumented.call_async
    elif inspect.isgeneratorfunction(function):
        wrapper = instrumented.call_generator
    else:
        plain = instrumented.is_plain_step
        wrapper = instrumented.call_sync_step if plain else instrumented.call_sync
    wrapped = wrapt.FunctionWrapper(original, wrapper)
    # Lets tools (and ow.uninstrument) see what was done to the function.
    setattr(wrapped, "_self_otel_workflow", instrumented)  # noqa: B010 - wrapt proxy attr
    return wrapped


def _check_retry(
    retries: int, retry_on: Any, backoff: Any
) -> tuple[int, tuple[type[BaseException], ...], float | Callable[[int], float]]:
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise ValueError(f"@step: retries must be an int >= 0, got {retries!r}")
    if isinstance(retry_on, type):
        retry_on = (retry_on,)
    if not isinstance(retry_on, tuple) or not retry_on or not all(
        isinstance(t, type) and issubclass(t, BaseException) for t in retry_on
    ):
        raise TypeError(
            f"@step: retry_on must be an exception class or a tuple of them, got {retry_on!r}"
        )
    if callable(backoff):
        pass
    elif isinstance(backoff, (int, float)) and not isinstance(backoff, bool) and backoff >= 0:
        backoff = float(backoff)
    else:
        raise ValueError(
            "@step: backoff must be seconds >= 0 (doubled after each attempt) or a callable "
            f"taking the attempt number and returning seconds, got {backoff!r}"
        )
    return retries, retry_on, backoff


@overload
def workflow(func: F, /) -> F: ...
@overload
def workflow(
    func: None = None, /, *, name: str | None = None, type: str | None = None,
    version: str | int | None = None, capture: bool | str | None = None,
    capture_limits: CaptureLimits | None = None,
) -> Callable[[F], F]: ...  # fmt: skip
def workflow(
    func: Any = None, /, *, name: str | None = None, type: str | None = None,
    version: str | int | None = None, capture: bool | str | None = None,
    capture_limits: CaptureLimits | None = None,
) -> Any:  # fmt: skip
    """Make each call of the function a workflow execution: a root span plus metrics.

    Works bare (``@ow.workflow``) or with options; a workflow called inside another is
    its child.  Options:

    - ``name``: the workflow name (default: the function's qualified name).
    - ``type``: a workflow type for grouping (a metric label; default ``""``).
    - ``version``: the workflow's version, recorded on its spans.
    - ``capture``: record arguments and/or the return value (``True``, ``"args"``,
      ``"result"``; default from ``OTEL_WORKFLOW_CAPTURE``), bounded and scrubbed.

    >>> import otel_workflow as ow
    >>> @ow.workflow(type="order")
    ... def checkout(order_id: str) -> str:
    ...     return order_id
    """
    if isinstance(func, str):
        raise TypeError(f"@workflow options are keyword-only: use @workflow(name={func!r})")
    _check_name("@workflow", "name", name)
    _check_name("@workflow", "type", type)
    if version is not None and not isinstance(version, (str, int)):
        raise TypeError(f"@workflow: version must be a string or int, got {version!r}")
    capture_input, capture_output = _capture_option("@workflow", capture)

    def decorate(target: Any) -> Any:
        function = _target_function("@workflow", target)
        instrumented = Instrumented(
            kind=semconv.SPAN_KIND_WORKFLOW,
            name=name or _default_name(function),
            func=function,
            workflow_type=type or "",
            version=None if version is None else str(version),
            capture_input=capture_input,
            capture_output=capture_output,
            capture_limits=capture_limits,
        )
        return _wrap(instrumented, target, function)

    return decorate if func is None else decorate(func)


@overload
def step(func: F, /) -> F: ...
@overload
def step(
    func: None = None, /, *, name: str | None = None, retries: int = 0,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = Exception,
    backoff: float | Callable[[int], float] = 0.0, capture: bool | str | None = None,
    capture_limits: CaptureLimits | None = None,
) -> Callable[[F], F]: ...  # fmt: skip
def step(
    func: Any = None, /, *, name: str | None = None, retries: int = 0,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = Exception,
    backoff: float | Callable[[int], float] = 0.0, capture: bool | str | None = None,
    capture_limits: CaptureLimits | None = None,
) -> Any:  # fmt: skip
    """Make each call of the function a step: a child span of the current execution.

    Options:

    - ``name``: the step name (default: the function's qualified name).
    - ``retries``: re-run a failing attempt up to this many times; each attempt is its
      own span with ``workflow.step.attempt``.
    - ``retry_on``: exception class(es) that trigger a retry (default ``Exception``).
    - ``backoff``: seconds before the first retry, doubled each time; or a callable
      ``attempt -> seconds``.
    - ``capture``: as for :func:`workflow`.

    >>> import otel_workflow as ow
    >>> @ow.step(retries=2, retry_on=TimeoutError)
    ... def fetch(url: str) -> str:
    ...     return url
    """
    if isinstance(func, str):
        raise TypeError(f"@step options are keyword-only: use @step(name={func!r})")
    _check_name("@step", "name", name)
    retries, retry_tuple, backoff = _check_retry(retries, retry_on, backoff)
    capture_input, capture_output = _capture_option("@step", capture)

    def decorate(target: Any) -> Any:
        function = _target_function("@step", target)
        if retries and (inspect.isgeneratorfunction(function)
                        or inspect.isasyncgenfunction(function)):  # fmt: skip
            raise ValueError("@step: retries cannot apply to generators (items already yielded)")
        instrumented = Instrumented(
            kind=semconv.SPAN_KIND_STEP,
            name=name or _default_name(function),
            func=function,
            capture_input=capture_input,
            capture_output=capture_output,
            capture_limits=capture_limits,
            retries=retries,
            retry_on=retry_tuple,
            backoff=backoff,
        )
        return _wrap(instrumented, target, function)

    return decorate if func is None else decorate(func)
