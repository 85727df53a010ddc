using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;

namespace OptGen;

/// <summary>
/// The shape of what one optimizer updates: tensors (by length), arranged in parameter groups that each have
/// their own hyperparameters. Tensors are numbered across groups in order: group 0's tensors first.
/// </summary>
/// <remarks>
/// <para>A flat "arena" holds the tensors back to back in this order (<see cref="ArenaOffsetOf"/>); the per-tensor
/// step overloads take one buffer per tensor instead.</para>
/// <para>Inside the optimizer each tensor's state starts on a 16-element (64-byte) boundary, so work split across
/// cores at 16-element boundaries only ever has a scalar tail at a tensor's end.</para>
/// </remarks>
public sealed partial class ParameterLayout
{
    /// <summary>State offsets are multiples of this many elements (one 512-bit vector of float32).</summary>
    internal const int StateAlignment = 16;

    private readonly int[] _lengths;
    private readonly int[] _groupOf;
    private readonly int[] _groupStart;
    private readonly long[] _arenaOffsets;
    private readonly long[] _stateOffsets;

    /// <summary>Creates a layout from the tensor lengths of each group.</summary>
    /// <param name="groups">One entry per group: the lengths of its tensors, each ≥ 0. No group may be null or empty.</param>
    /// <exception cref="ArgumentNullException"><paramref name="groups"/> or one of its groups is null.</exception>
    /// <exception cref="ArgumentException">There are no groups, a group has no tensors, or a length is negative.</exception>
    public ParameterLayout(params IReadOnlyList<int>[] groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        if (groups.Length == 0)
        {
            throw new ArgumentException("A layout needs at least one parameter group.", nameof(groups));
        }

        // Each group is read once, into an array: a caller's list whose Count disagrees with what it enumerates (or
        // that another thread changes meanwhile) cannot leave the layout with fewer lengths than tensors.
        var lengths = new int[groups.Length][];
        long tensors = 0;
        for (int k = 0; k < groups.Length; k++)
        {
            if (groups[k] is null)
            {
                throw new ArgumentNullException(nameof(groups), $"Parameter group {k} is null.");
            }

            lengths[k] = Snapshot(groups[k]);
            if (lengths[k].Length == 0)
            {
                throw new ArgumentException($"Parameter group {k} has no tensors.", nameof(groups));
            }

            tensors += lengths[k].Length;
        }

        if (tensors >= Array.MaxLength)
        {
            throw new ArgumentException($"The groups hold {tensors} tensors, more than one buffer can address.", nameof(groups));
        }

        _lengths = new int[tensors];
        _groupOf = new int[tensors];
        _groupStart = new int[groups.Length + 1];
        _arenaOffsets = new long[tensors + 1];
        _stateOffsets = new long[tensors + 1];
        int j = 0;
        for (int k = 0; k < groups.Length; k++)
        {
            _groupStart[k] = j;
            foreach (int length in lengths[k])
            {
                if (length < 0)
                {
                    throw new ArgumentException($"Tensor {j} (in group {k}) has a negative length, {length}.", nameof(groups));
                }

                _lengths[j] = length;
                _groupOf[j] = k;
                _arenaOffsets[j + 1] = _arenaOffsets[j] + length;
                _stateOffsets[j + 1] = _stateOffsets[j] + ((length + StateAlignment - 1L) / StateAlignment * StateAlignment);
                j++;
            }
        }

        _groupStart[groups.Length] = j;
        if (_arenaOffsets[tensors] > Array.MaxLength || _stateOffsets[tensors] > Array.MaxLength)
        {
            throw new ArgumentException("The tensors hold more elements than one buffer can address.", nameof(groups));
        }

        // A single tensor keeps exactly its length in state (no padding after it): GetState returns it unpadded.
        StateLength = j == 1 ? _lengths[0] : (int)_stateOffsets[tensors];
    }

    /// <summary>The lengths <paramref name="group"/> enumerates (not trusting its Count, which sizes nothing here).</summary>
    private static int[] Snapshot(IReadOnlyList<int> group)
    {
        var lengths = new List<int>();
        foreach (int length in group)
        {
            lengths.Add(length);
        }

        return [.. lengths];
    }

    /// <summary>One group holding one tensor of <paramref name="length"/> elements: the classic single-tensor optimizer.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative.</exception>
    public static ParameterLayout Single(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return new ParameterLayout(new[] { length });
    }

    /// <summary>The number of parameter groups.</summary>
    public int GroupCount => _groupStart.Length - 1;

    /// <summary>The number of tensors over all groups.</summary>
    public int TensorCount => _lengths.Length;

    /// <summary>The total number of parameters: the length of a packed arena.</summary>
    public int TotalLength => (int)_arenaOffsets[^1];

    /// <summary>The number of elements of tensor <paramref name="tensor"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tensor"/> is not in [0, <see cref="TensorCount"/>).</exception>
    public int LengthOf(int tensor) => _lengths[Tensor(tensor)];

    /// <summary>The group that tensor <paramref name="tensor"/> belongs to.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tensor"/> is not in [0, <see cref="TensorCount"/>).</exception>
    public int GroupOf(int tensor) => _groupOf[Tensor(tensor)];

    /// <summary>The index of the first tensor of group <paramref name="group"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="group"/> is not in [0, <see cref="GroupCount"/>).</exception>
    public int FirstTensorOf(int group) => _groupStart[Group(group)];

    /// <summary>The number of tensors in group <paramref name="group"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="group"/> is not in [0, <see cref="GroupCount"/>).</exception>
    public int TensorCountOf(int group) => _groupStart[Group(group) + 1] - _groupStart[group];

    /// <summary>Where tensor <paramref name="tensor"/> starts in a packed arena of <see cref="TotalLength"/> elements.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tensor"/> is not in [0, <see cref="TensorCount"/>).</exception>
    public int ArenaOffsetOf(int tensor) => (int)_arenaOffsets[Tensor(tensor)];

    /// <summary><paramref name="tensor"/>, checked to be a tensor of this layout (an index a caller gives a public member).</summary>
    /// <exception cref="ArgumentOutOfRangeException">It is not in [0, <see cref="TensorCount"/>).</exception>
    private int Tensor(int tensor)
    {
        if ((uint)tensor >= (uint)_lengths.Length)
        {
            ThrowNotIn(nameof(tensor), tensor, _lengths.Length, "tensors");
        }

        return tensor;
    }

    /// <summary><paramref name="group"/>, checked to be a group of this layout.</summary>
    /// <exception cref="ArgumentOutOfRangeException">It is not in [0, <see cref="GroupCount"/>).</exception>
    private int Group(int group)
    {
        if ((uint)group >= (uint)(_groupStart.Length - 1))
        {
            ThrowNotIn(nameof(group), group, _groupStart.Length - 1, "groups");
        }

        return group;
    }

    [DoesNotReturn]
    private static void ThrowNotIn(string name, int value, int count, string what) =>
        throw new ArgumentOutOfRangeException(name, value, $"The layout has {count} {what}: {name} must be in [0, {count}).");

    /// <summary>Elements per state plane: every tensor's state at its 16-aligned offset.</summary>
    internal int StateLength { get; }

    /// <summary>Where tensor <paramref name="tensor"/>'s state starts inside each state plane (a multiple of 16).</summary>
    internal int StateOffsetOf(int tensor) => (int)_stateOffsets[tensor];

    /// <summary>Whether <paramref name="other"/> has the same groups of the same tensor lengths.</summary>
    public bool HasSameShape(ParameterLayout other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return _lengths.AsSpan().SequenceEqual(other._lengths) && _groupStart.AsSpan().SequenceEqual(other._groupStart);
    }
}
