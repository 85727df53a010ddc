using System;
using System.IO;

namespace OptGen;

/// <summary>Why a checkpoint was rejected.</summary>
public enum CheckpointError
{
    /// <summary>The data does not start with the checkpoint magic bytes.</summary>
    NotACheckpoint = 0,

    /// <summary>The checkpoint was written by a format version this build cannot read.</summary>
    UnsupportedVersion = 1,

    /// <summary>The data ends before the checkpoint does.</summary>
    Truncated = 2,

    /// <summary>The checksum does not match, or a field holds an impossible value.</summary>
    Corrupted = 3,

    /// <summary>The checkpoint was saved by a different update rule (name, rule fingerprint, hyperparameters or state buffers differ).</summary>
    WrongRule = 4,

    /// <summary>The checkpoint's parameter groups or tensor lengths differ from the optimizer's layout.</summary>
    WrongShape = 5,
}

/// <summary>A checkpoint could not be loaded; the optimizer was left exactly as it was.</summary>
public sealed class CheckpointException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="error">Why the checkpoint was rejected.</param>
    /// <param name="message">What was wrong, in words.</param>
    public CheckpointException(CheckpointError error, string message)
        : base(message)
    {
        Error = error;
    }

    /// <summary>Why the checkpoint was rejected.</summary>
    public CheckpointError Error { get; }
}
