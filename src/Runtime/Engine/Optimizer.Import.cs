using System;
using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("OptGen.TorchSharp")]

namespace OptGen;

/// <summary>
/// What an adapter to another framework's optimizer format needs beyond the public API (src/TorchSharp:
/// <c>load_state_dict</c> in TorchSharp's shapes): reading the carried host scalars, and replacing the step count,
/// host scalars and one tensor's per-element state, each checked before it writes.
/// </summary>
public abstract partial class Optimizer
{
    /// <summary>Carried host scalar <paramref name="index"/> of group <paramref name="group"/> (e.g. NAdam's Πμ).</summary>
    internal double HostStateOf(int group, int index) => _groupHostState[group][index];

    /// <summary>
    /// Replaces the step count and every group's carried host scalars, checked first (the same value checks as
    /// <c>LoadCheckpoint</c>): a rejected import leaves the optimizer as it was.
    /// </summary>
    /// <param name="stepCount">The step count, in [0, 2⁵³ − 1].</param>
    /// <param name="hostState">Per group, one finite value per carried host scalar.</param>
    internal void ImportScalars(long stepCount, double[][] hostState)
    {
        ThrowIfBadScalars(stepCount, hostState);
        using StepGuard guard = EnterGuard("Importing the state");

        // Again inside the guard: an Eval of another thread may have finished between the check and the guard.
        ThrowIfStateHeld("loading a state dictionary");
        for (int g = 0; g < hostState.Length; g++)
        {
            hostState[g].CopyTo(_groupHostState[g], 0);
        }

        StepCount = stepCount;
    }

    /// <summary>Checks what <see cref="ImportScalars"/> would be given, without writing anything.</summary>
    /// <exception cref="InvalidOperationException">The state holds something an import would replace unseen (schedule-free's y in eval mode), as <c>LoadCheckpoint</c> refuses.</exception>
    internal void ThrowIfBadScalars(long stepCount, double[][] hostState)
    {
        ArgumentNullException.ThrowIfNull(hostState);
        ThrowIfStateHeld("loading a state dictionary");
        if (stepCount < 0 || stepCount > MaxCheckpointStepCount)
        {
            throw new ArgumentOutOfRangeException(nameof(stepCount), stepCount, $"The step count must be in [0, {MaxCheckpointStepCount}].");
        }

        if (hostState.Length != Layout.GroupCount)
        {
            throw new ArgumentException($"Expected carried scalars for {Layout.GroupCount} groups but got {hostState.Length}.", nameof(hostState));
        }

        foreach (double[] values in hostState)
        {
            if (values is null || values.Length != _hostState.Length || !Array.TrueForAll(values, double.IsFinite))
            {
                throw new ArgumentException($"Every group needs {_hostState.Length} finite carried scalars.", nameof(hostState));
            }
        }
    }

    /// <summary>
    /// Replaces tensor <paramref name="tensor"/>'s part of every state buffer (values as saved, NaN and ±∞ included, as
    /// <c>LoadCheckpoint</c>; rounded to bfloat16 or quantized when the tensor's state is stored so). Checked first:
    /// nothing is written unless every buffer has the tensor's length.
    /// </summary>
    /// <param name="tensor">A tensor of <see cref="Layout"/>.</param>
    /// <param name="planes">Per state buffer (descriptor order), the tensor's values.</param>
    internal void ImportTensorState(int tensor, ReadOnlySpan<float[]> planes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tensor);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(tensor, Layout.TensorCount);
        if (planes.Length != Descriptor.States.Count)
        {
            throw new ArgumentException($"The rule '{Descriptor.Name}' has {Descriptor.States.Count} state buffers; got {planes.Length}.", nameof(planes));
        }

        using StepGuard guard = EnterGuard("Importing the state");
        ThrowIfStateHeld("loading a state dictionary");
        StateView state = StateView;
        for (int k = 0; k < planes.Length; k++)
        {
            if (planes[k] is null || planes[k].Length != state.LengthOf(k, tensor))
            {
                throw new ArgumentException($"Tensor {tensor} has {state.LengthOf(k, tensor)} elements in state buffer {k}.", nameof(planes));
            }
        }

        for (int k = 0; k < planes.Length; k++)
        {
            state.Write(k, tensor, planes[k]);
        }
    }
}
