"""What common libraries' exception types mean, by package and class name (never imported).

Keys are ``(top-level package, class name)``: ``httpx._exceptions.ConnectError`` and a
stored ``error.type`` of ``httpx.ConnectError`` both become ``("httpx", "ConnectError")``,
so live exceptions (matched along their MRO) and names read back from spans of other
instrumentation use one table.  Package aliases fold a library's split distributions
together (``pydantic_core`` is pydantic, ``psycopg2`` is psycopg).
"""

from __future__ import annotations

from typing import Final

# Category labels as strings here: categories.py turns them into the enum (a data module
# with no imports keeps the hot path's import cost flat).
V, T, X, C, N, A, R, CFG, P, CAN = (
    "validation", "timeout", "external_service", "constraint", "not_found", "auth",
    "resource", "configuration", "programming", "cancelled",
)  # fmt: skip

PACKAGE_ALIASES: Final = {
    "pydantic_core": "pydantic",
    "psycopg2": "psycopg",
    "psycopg_pool": "psycopg",
    "_socket": "socket",
    "_ssl": "ssl",
    "concurrent": "concurrent",
    "asyncio": "asyncio",
}

_BUILTINS: dict[str, str] = {
    "TimeoutError": T,
    "ConnectionError": X, "ConnectionRefusedError": X, "ConnectionResetError": X,
    "ConnectionAbortedError": X, "BrokenPipeError": X,
    "PermissionError": A,
    "FileNotFoundError": N, "LookupError": N,
    "FileExistsError": C,
    "IsADirectoryError": CFG, "NotADirectoryError": CFG,
    "ImportError": CFG, "ModuleNotFoundError": CFG, "EnvironmentError": X,
    "MemoryError": R, "RecursionError": R,
    "ValueError": V, "UnicodeError": V, "UnicodeDecodeError": V, "UnicodeEncodeError": V,
    "AttributeError": P, "NameError": P, "UnboundLocalError": P, "ZeroDivisionError": P,
    "ArithmeticError": P, "OverflowError": P, "TypeError": P, "KeyError": P,
    "IndexError": P, "AssertionError": P, "NotImplementedError": P, "SyntaxError": P,
    "IndentationError": P, "StopIteration": P, "StopAsyncIteration": P,
    "KeyboardInterrupt": CAN, "GeneratorExit": CAN,
    # Known but saying nothing: the cause chain decides, and it is not retried by default.
    "RuntimeError": "unknown", "Exception": "unknown",
}  # fmt: skip

_STDLIB: dict[tuple[str, str], str] = {
    ("asyncio", "CancelledError"): CAN, ("asyncio", "TimeoutError"): T,
    ("asyncio", "InvalidStateError"): P, ("asyncio", "QueueFull"): R,
    ("concurrent", "TimeoutError"): T, ("concurrent", "CancelledError"): CAN,
    ("concurrent", "BrokenExecutor"): R,
    ("socket", "timeout"): T, ("socket", "gaierror"): X, ("socket", "herror"): X,
    ("ssl", "SSLError"): X, ("ssl", "SSLCertVerificationError"): CFG,
    ("ssl", "SSLZeroReturnError"): X, ("ssl", "SSLEOFError"): X,
    ("json", "JSONDecodeError"): V,
    ("sqlite3", "IntegrityError"): C, ("sqlite3", "OperationalError"): R,
    ("sqlite3", "ProgrammingError"): P, ("sqlite3", "DataError"): V,
    ("sqlite3", "InterfaceError"): P, ("sqlite3", "NotSupportedError"): CFG,
    ("urllib", "URLError"): X, ("http", "RemoteDisconnected"): X,
    ("http", "IncompleteRead"): X, ("http", "BadStatusLine"): X,
    ("configparser", "Error"): CFG, ("configparser", "NoSectionError"): CFG,
    ("configparser", "NoOptionError"): CFG,
    ("subprocess", "TimeoutExpired"): T, ("subprocess", "CalledProcessError"): X,
    ("smtplib", "SMTPAuthenticationError"): A, ("smtplib", "SMTPException"): X,
    ("zlib", "error"): V, ("binascii", "Error"): V, ("csv", "Error"): V,
    ("decimal", "InvalidOperation"): V, ("decimal", "DivisionByZero"): P,
}  # fmt: skip

_LIBRARIES: dict[tuple[str, str], str] = {
    # requests
    ("requests", "ConnectTimeout"): T, ("requests", "ReadTimeout"): T,
    ("requests", "Timeout"): T, ("requests", "ConnectionError"): X,
    ("requests", "SSLError"): X, ("requests", "ProxyError"): X,
    ("requests", "TooManyRedirects"): X, ("requests", "ChunkedEncodingError"): X,
    ("requests", "ContentDecodingError"): X, ("requests", "RetryError"): X,
    ("requests", "InvalidURL"): CFG, ("requests", "MissingSchema"): CFG,
    ("requests", "InvalidSchema"): CFG, ("requests", "InvalidHeader"): CFG,
    ("requests", "JSONDecodeError"): V, ("requests", "HTTPError"): X,
    # httpx
    ("httpx", "TimeoutException"): T, ("httpx", "ConnectTimeout"): T,
    ("httpx", "ReadTimeout"): T, ("httpx", "WriteTimeout"): T, ("httpx", "PoolTimeout"): T,
    ("httpx", "ConnectError"): X, ("httpx", "ReadError"): X, ("httpx", "WriteError"): X,
    ("httpx", "CloseError"): X, ("httpx", "NetworkError"): X, ("httpx", "ProxyError"): X,
    ("httpx", "RemoteProtocolError"): X, ("httpx", "LocalProtocolError"): P,
    ("httpx", "ProtocolError"): X, ("httpx", "TransportError"): X,
    ("httpx", "TooManyRedirects"): X, ("httpx", "HTTPStatusError"): X,
    ("httpx", "DecodingError"): V, ("httpx", "InvalidURL"): CFG,
    ("httpx", "UnsupportedProtocol"): CFG, ("httpx", "HTTPError"): X,
    ("httpx", "StreamError"): P,
    # urllib3
    ("urllib3", "ConnectTimeoutError"): T, ("urllib3", "ReadTimeoutError"): T,
    ("urllib3", "TimeoutError"): T, ("urllib3", "NewConnectionError"): X,
    ("urllib3", "MaxRetryError"): X, ("urllib3", "ProtocolError"): X,
    ("urllib3", "SSLError"): X, ("urllib3", "ProxyError"): X,
    ("urllib3", "LocationParseError"): CFG, ("urllib3", "HTTPError"): X,
    # aiohttp
    ("aiohttp", "ServerTimeoutError"): T, ("aiohttp", "ConnectionTimeoutError"): T,
    ("aiohttp", "SocketTimeoutError"): T, ("aiohttp", "ClientConnectorError"): X,
    ("aiohttp", "ServerDisconnectedError"): X, ("aiohttp", "ClientConnectionError"): X,
    ("aiohttp", "ClientOSError"): X, ("aiohttp", "ClientPayloadError"): X,
    ("aiohttp", "ClientResponseError"): X, ("aiohttp", "InvalidURL"): CFG,
    ("aiohttp", "ContentTypeError"): V, ("aiohttp", "ClientError"): X,
    # grpc (the status code refines it: see categories._grpc_category)
    ("grpc", "RpcError"): X, ("grpc", "AioRpcError"): X,
    # botocore / boto3 (the error code and HTTP status refine ClientError)
    ("botocore", "ClientError"): X, ("botocore", "EndpointConnectionError"): X,
    ("botocore", "ConnectionClosedError"): X, ("botocore", "ConnectTimeoutError"): T,
    ("botocore", "ReadTimeoutError"): T, ("botocore", "NoCredentialsError"): CFG,
    ("botocore", "PartialCredentialsError"): CFG, ("botocore", "NoRegionError"): CFG,
    ("botocore", "ParamValidationError"): V, ("botocore", "ProfileNotFound"): CFG,
    ("boto3", "ResourceNotExistsError"): N,
    # SQLAlchemy
    ("sqlalchemy", "IntegrityError"): C, ("sqlalchemy", "OperationalError"): X,
    ("sqlalchemy", "TimeoutError"): T, ("sqlalchemy", "NoResultFound"): N,
    ("sqlalchemy", "MultipleResultsFound"): C, ("sqlalchemy", "ProgrammingError"): P,
    ("sqlalchemy", "DataError"): V, ("sqlalchemy", "ArgumentError"): P,
    ("sqlalchemy", "InterfaceError"): X, ("sqlalchemy", "DisconnectionError"): X,
    ("sqlalchemy", "StaleDataError"): C, ("sqlalchemy", "NoSuchTableError"): CFG,
    ("sqlalchemy", "DBAPIError"): X,
    # psycopg / psycopg2
    ("psycopg", "UniqueViolation"): C, ("psycopg", "ForeignKeyViolation"): C,
    ("psycopg", "NotNullViolation"): C, ("psycopg", "CheckViolation"): C,
    ("psycopg", "ExclusionViolation"): C, ("psycopg", "IntegrityError"): C,
    ("psycopg", "SerializationFailure"): C, ("psycopg", "DeadlockDetected"): C,
    ("psycopg", "QueryCanceled"): T, ("psycopg", "OperationalError"): X,
    ("psycopg", "InterfaceError"): X, ("psycopg", "DataError"): V,
    ("psycopg", "InvalidTextRepresentation"): V, ("psycopg", "InsufficientPrivilege"): A,
    ("psycopg", "InvalidPassword"): A, ("psycopg", "UndefinedTable"): P,
    ("psycopg", "UndefinedColumn"): P, ("psycopg", "SyntaxError"): P,
    ("psycopg", "ProgrammingError"): P, ("psycopg", "PoolTimeout"): T,
    # pymongo
    ("pymongo", "DuplicateKeyError"): C, ("pymongo", "ServerSelectionTimeoutError"): T,
    ("pymongo", "NetworkTimeout"): T, ("pymongo", "ExecutionTimeout"): T,
    ("pymongo", "WTimeoutError"): T, ("pymongo", "WaitQueueTimeoutError"): T,
    ("pymongo", "AutoReconnect"): X, ("pymongo", "ConnectionFailure"): X,
    ("pymongo", "NotPrimaryError"): X, ("pymongo", "ConfigurationError"): CFG,
    ("pymongo", "InvalidURI"): CFG, ("pymongo", "OperationFailure"): X,
    ("pymongo", "DocumentTooLarge"): V, ("pymongo", "InvalidOperation"): P,
    ("bson", "InvalidDocument"): V,
    # redis
    ("redis", "TimeoutError"): T, ("redis", "ConnectionError"): X,
    ("redis", "BusyLoadingError"): X, ("redis", "AuthenticationError"): A,
    ("redis", "AuthorizationError"): A, ("redis", "NoPermissionError"): A,
    ("redis", "DataError"): V, ("redis", "ResponseError"): X, ("redis", "LockError"): C,
    ("redis", "OutOfMemoryError"): R, ("redis", "ReadOnlyError"): X,
    # validation libraries
    ("pydantic", "ValidationError"): V, ("pydantic", "PydanticUserError"): P,
    ("pydantic", "PydanticSchemaGenerationError"): P,
    ("jsonschema", "ValidationError"): V, ("jsonschema", "SchemaError"): CFG,
    ("marshmallow", "ValidationError"): V, ("marshmallow", "RegistryError"): CFG,
    # frameworks commonly around workflows
    ("django", "ObjectDoesNotExist"): N, ("django", "ImproperlyConfigured"): CFG,
    ("django", "PermissionDenied"): A, ("django", "ValidationError"): V,
    ("celery", "SoftTimeLimitExceeded"): T, ("celery", "TimeLimitExceeded"): T,
}  # fmt: skip

KNOWN: Final[dict[tuple[str, str], str]] = {
    **{("builtins", name): cat for name, cat in _BUILTINS.items()},
    **_STDLIB,
    **_LIBRARIES,
}
"""``(package, class name) -> category label`` for every type known by name."""

NOT_RETRYABLE_DESPITE_CATEGORY: Final = frozenset(
    {("builtins", "MemoryError"), ("builtins", "RecursionError"), ("builtins", "RuntimeError"),
     ("ssl", "SSLCertVerificationError")}
)
RETRYABLE_DESPITE_CATEGORY: Final = frozenset(
    {("psycopg", "SerializationFailure"), ("psycopg", "DeadlockDetected"),
     ("sqlalchemy", "StaleDataError")}
)  # fmt: skip

# Types whose instances carry an HTTP status (the attribute paths to read it).
STATUS_CARRIERS: Final = frozenset(
    {("httpx", "HTTPStatusError"), ("requests", "HTTPError"), ("urllib3", "HTTPError"),
     ("aiohttp", "ClientResponseError"), ("urllib", "HTTPError"), ("botocore", "ClientError")}
)  # fmt: skip

# Substrings of class names (lower-cased) for types no table knows, checked in order.
NAME_HINTS: Final[tuple[tuple[tuple[str, ...], str], ...]] = (
    (("timeout", "timedout", "deadline"), T),
    (("integrity", "constraint", "unique", "conflict", "duplicate", "alreadyexists"), C),
    (("unauthorized", "unauthenticated", "forbidden", "permission", "accessdenied",
      "authentication", "authorization", "credential"), A),
    (("validation", "invalid", "schema", "decode", "parse", "malformed"), V),
    (("notfound", "doesnotexist", "nosuch", "missing"), N),
    (("config", "improperly", "setting"), CFG),
    (("ratelimit", "throttl", "toomanyrequests", "connection", "http", "transport",
      "network", "unavailable", "service", "grpc", "ssl", "upstream", "gateway"), X),
    (("memory", "quota", "exhausted", "capacity", "diskfull", "nospace"), R),
    (("cancel", "abort", "interrupt"), CAN),
)  # fmt: skip

# grpc.StatusCode names -> category.
GRPC_CODES: Final = {
    "DEADLINE_EXCEEDED": T, "UNAVAILABLE": X, "UNAUTHENTICATED": A, "PERMISSION_DENIED": A,
    "NOT_FOUND": N, "ALREADY_EXISTS": C, "ABORTED": C, "INVALID_ARGUMENT": V,
    "OUT_OF_RANGE": V, "FAILED_PRECONDITION": V, "RESOURCE_EXHAUSTED": R, "CANCELLED": CAN,
    "UNIMPLEMENTED": CFG, "INTERNAL": X, "UNKNOWN": X, "DATA_LOSS": X,
}  # fmt: skip

# botocore error codes -> category (the HTTP status decides the rest).
AWS_CODES: Final = {
    "ThrottlingException": X, "Throttling": X, "TooManyRequestsException": X,
    "ProvisionedThroughputExceededException": X, "RequestLimitExceeded": X,
    "SlowDown": X, "AccessDenied": A, "AccessDeniedException": A,
    "UnauthorizedOperation": A, "InvalidClientTokenId": A, "ExpiredToken": A,
    "ExpiredTokenException": A, "NoSuchKey": N, "NoSuchBucket": N,
    "ResourceNotFoundException": N, "ConditionalCheckFailedException": C,
    "TransactionConflictException": C, "ValidationException": V, "InvalidParameterValue": V,
    "ServiceUnavailable": X, "InternalError": X, "RequestTimeout": T,
}  # fmt: skip
