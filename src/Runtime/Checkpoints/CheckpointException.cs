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

    /// <summary>
    /// The checksum does not match, or a field holds an impossible value: a count or length that does not fit in the
    /// checkpoint, a step count outside [0, 2⁵³ − 1], a hyperparameter out of its range (in float32 too), a carried host
    /// scalar that is not finite. State values are restored as saved, NaN included.
    /// </summary>
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

    /// <summary>Creates the exception for a field that holds an impossible or out-of-range value.</summary>
    /// <param name="error">Why the checkpoint was rejected.</param>
    /// <param name="field">The field, e.g. <c>stepCount</c>, <c>group count</c> or a hyperparameter's name such as <c>LearningRate</c>.</param>
    /// <param name="message">What was wrong, in words.</param>
    public CheckpointException(CheckpointError error, string? field, string message)
        : base(message)
    {
        Error = error;
        Field = field;
    }

    /// <summary>Why the checkpoint was rejected.</summary>
    public CheckpointError Error { get; }

    /// <summary>
    /// The field that was rejected: <c>magic</c>, <c>version</c>, <c>flags</c>, <c>size</c> (the declared size, or data
    /// that ends early or runs past it), <c>name</c>, <c>ruleId</c>, <c>stepCount</c>, <c>hyperparameter count</c>,
    /// <c>hyperparameter name</c>, <c>state count</c>, <c>state name</c>, <c>group count</c>, <c>tensor count</c>,
    /// <c>tensor length</c>, <c>hyperparameters</c>, <c>host scalar count</c>, <c>host scalars</c>, <c>state</c>,
    /// <c>checksum</c>, <c>rule</c>, <c>layout</c>, or the name of the hyperparameter or carried host scalar whose value
    /// is out of range; null when not known.
    /// </summary>
    public string? Field { get; }
}
