using System;
using OptGen.Kernels;

namespace OptGen;

/// <summary>How the optimizer stores its per-element state.</summary>
public enum StatePrecision
{
    /// <summary>float32: 4 bytes per element and buffer (the default).</summary>
    Float32 = 0,

    /// <summary>
    /// bfloat16: 2 bytes per element and buffer, widened to float32 for the math and rounded to nearest even when
    /// stored (Adam: 20 instead of 28 bytes of memory traffic per element and step).
    /// </summary>
    BFloat16 = 1,

    /// <summary>
    /// 8-bit blockwise (bitsandbytes' 8-bit optimizers): each state buffer of a tensor of at least
    /// <see cref="Optimizer.BlockwiseThreshold"/> elements is cut into blocks of 256 values, stored as one byte code
    /// per value and one float32 absmax per block (Adam: 2.03 bytes of state per parameter instead of 8). The code
    /// table is the dynamic map, signed or unsigned per buffer (<see cref="StateDescriptor.IsNonNegative"/>). The
    /// kernel dequantizes each block, updates it in float32, and requantizes it in the same pass. Rules with
    /// reductions (LAMB, LARS, schedule-free AdamW, declared <c>norm</c>/<c>sum</c>/<c>row_</c>/<c>block_</c> rules,
    /// Adam-mini) write it once per step from the float32 values every pass agrees on, as bitsandbytes' 8-bit LAMB and
    /// LARS. Compact state (one value per row, column or block: Adam-mini's second moment, Adafactor's factors) is
    /// kept in float32; only the buffers of one value per parameter are quantized.
    /// </summary>
    Int8Blockwise = 2,

    /// <summary>
    /// 4-bit blockwise (torchao's 4-bit optimizers): blocks of 128 values, 4-bit codes (two per byte) and one float32
    /// absmax per block; torchao's signed dynamic map, or its linear map k/16 for buffers that stay ≥ 0 (Adam: 1.06
    /// bytes of state per parameter).
    /// </summary>
    Int4Blockwise = 3,
}

/// <summary>State precision: per optimizer, and per parameter group.</summary>
public abstract partial class Optimizer
{
    /// <summary>
    /// With <see cref="StatePrecision.Int8Blockwise"/> or <see cref="StatePrecision.Int4Blockwise"/> state, tensors
    /// with fewer elements than this keep float32 state (as bitsandbytes' <c>min_8bit_size</c> and torchao do).
    /// </summary>
    public const int BlockwiseThreshold = 4096;

    /// <summary>How the guard and a refusal name setting a group's precision (<see cref="ChangeGroupStatePrecision"/>).</summary>
    private const string GroupPrecisionOperation = "Setting a group's StatePrecision";

    // The state when it is blockwise-quantized or its precision differs between groups (then _state is an empty
    // placeholder that refuses float access); null when every group's state is float32, or every group's bfloat16.
    private BlockwiseState? _blockwise;

    // The optimizer's precision, and each group's own (null: the group follows the optimizer's; the array is null
    // when no group has its own). The stored state always has StatePrecisionOf(g) for every group g.
    private StatePrecision _statePrecision;
    private StatePrecision?[]? _groupStatePrecision;

    /// <summary>
    /// How the state is stored: the precision of every parameter group that has none of its own
    /// (<see cref="ParameterGroup.StatePrecision"/>); change it with <see cref="ChangeStatePrecision(StatePrecision)"/>.
    /// </summary>
    public StatePrecision StatePrecision => _statePrecision;

    /// <summary>
    /// Bytes of optimizer state per parameter: every state buffer's bytes (codes, per-block absmax, bfloat16 and
    /// float32 values, each group in its own precision) over <see cref="Length"/>. Adam: 8 with float32 state, 4 with
    /// bfloat16, 2.03 with 8-bit and 1.06 with 4-bit blockwise state (on tensors above the threshold).
    /// </summary>
    public double StateBytesPerParameter => Length == 0 ? 0 : (double)StateBytes / Length;

    /// <summary>The blockwise (or per-group) state, or null when every group's state is float32, or every group's bfloat16; read only inside the guard.</summary>
    internal BlockwiseState? Blockwise => _blockwise;

    /// <summary>
    /// Whether some parameter group stores its state in another precision than <see cref="StatePrecision"/> (it has
    /// its own, <see cref="ParameterGroup.StatePrecision"/>); backends that support one precision per optimizer only
    /// (the GPU, sharded steps) refuse such an optimizer.
    /// </summary>
    internal bool HasGroupStatePrecision
    {
        get
        {
            for (int g = 0; g < Layout.GroupCount; g++)
            {
                if (StatePrecisionOf(g) != _statePrecision)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>The view of the state as stored now; read only inside the guard.</summary>
    internal StateView StateView => new(_state, _blockwise, Layout);

    /// <summary>
    /// How group <paramref name="group"/>'s state is stored: its own precision (<see cref="ParameterGroup.StatePrecision"/>)
    /// when it has one, else <see cref="StatePrecision"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="group"/> is not a group of <see cref="Layout"/>.</exception>
    public StatePrecision StatePrecisionOf(int group)
    {
        ThrowIfNotGroup(group);
        return _groupStatePrecision?[group] ?? _statePrecision;
    }

    /// <summary>Group <paramref name="group"/>'s own precision, or null when it follows the optimizer's (<see cref="ParameterGroup.StatePrecision"/>).</summary>
    internal StatePrecision? OwnStatePrecisionOf(int group)
    {
        ThrowIfNotGroup(group);
        return _groupStatePrecision?[group];
    }

    /// <summary>
    /// Converts the state of every group that has no precision of its own (<see cref="ParameterGroup.StatePrecision"/>)
    /// to <paramref name="precision"/>, in any direction: widening (bfloat16, 8-bit or 4-bit to float32) is exact,
    /// bfloat16 rounds every value to nearest even, and 8-bit and 4-bit quantize each block of the (dequantized)
    /// values again; groups whose precision does not change keep their state bit for bit. Every rule takes every
    /// precision: with 8-bit or 4-bit state a rule's compact state (one value per row, column or block: Adam-mini's
    /// second moment, Adafactor's factors, a declared rule's <c>row_</c>/<c>block_</c> states) stays float32 and keeps
    /// its values, as do the buffers a multi-pass rule's passes cannot stage (Adam-mini quantizes its m; Adafactor
    /// nothing). With anything but float32 state, <see cref="GetState(string)"/> is unavailable: read the state with
    /// <see cref="CopyState"/>. On failure nothing is changed.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="precision"/> is not a defined value.</exception>
    /// <exception cref="NotSupportedException">Blockwise state for a rule with more than <see cref="BlockwiseDriver.MaxPlanes"/> state buffers, or, for a rule with compact state (Adafactor, Adam-mini, declared rules with a state stored per row, column or block), bfloat16 for some groups and not for others; nothing was changed.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the optimizer; nothing was changed.</exception>
    public void ChangeStatePrecision(StatePrecision precision)
    {
        ThrowIfUndefined(precision, nameof(precision));
        using StepGuard guard = EnterGuard(nameof(ChangeStatePrecision));
        ChangeStatePrecisionGuarded(precision);
    }

    /// <summary><see cref="ChangeStatePrecision(StatePrecision)"/> for a caller that holds the guard and checked <paramref name="precision"/> (GpuOptimizer: copy, convert and upload under one guard).</summary>
    internal void ChangeStatePrecisionGuarded(StatePrecision precision)
    {
        ConvertState(EffectivePrecisions(precision, _groupStatePrecision), nameof(precision), nameof(ChangeStatePrecision));
        _statePrecision = precision;
    }

    /// <summary>
    /// Gives parameter group <paramref name="group"/> its own state precision, or with null makes it follow the
    /// optimizer's (<see cref="StatePrecision"/>) again, converting its state as
    /// <see cref="ChangeStatePrecision(StatePrecision)"/> does; every other group keeps its state bit for bit. A group
    /// with its own precision keeps it when the optimizer's changes: as bitsandbytes' <c>override_config</c> keeps an
    /// embedding's state in 32 bits in an 8-bit optimizer. On failure nothing is changed.
    /// </summary>
    /// <param name="group">A group of <see cref="Layout"/>.</param>
    /// <param name="value">The group's precision, or null for the optimizer's.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="group"/> is not a group of <see cref="Layout"/>, or <paramref name="value"/> is not a defined value.</exception>
    /// <exception cref="NotSupportedException">Blockwise state for a rule with more than <see cref="BlockwiseDriver.MaxPlanes"/> state buffers, or, for a rule with compact state (Adafactor, Adam-mini, declared rules with a state stored per row, column or block), bfloat16 for some groups and not for others; nothing was changed.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the optimizer; nothing was changed.</exception>
    internal void ChangeGroupStatePrecision(int group, StatePrecision? value)
    {
        ThrowIfNotGroup(group);
        if (value is { } precision)
        {
            ThrowIfUndefined(precision, nameof(value));
        }

        using StepGuard guard = EnterGuard(GroupPrecisionOperation);
        ChangeGroupStatePrecisionGuarded(group, value);
    }

    /// <summary><see cref="ChangeGroupStatePrecision"/> for a caller that holds the guard and checked the arguments (GpuOptimizer: copy, convert and upload under one guard).</summary>
    internal void ChangeGroupStatePrecisionGuarded(int group, StatePrecision? value)
    {
        var own = new StatePrecision?[Layout.GroupCount];
        _groupStatePrecision?.CopyTo(own, 0);
        own[group] = value;
        ConvertState(EffectivePrecisions(_statePrecision, own), nameof(value), GroupPrecisionOperation);
        _groupStatePrecision = Array.TrueForAll(own, static p => p is null) ? null : own;
    }

    private void ThrowIfNotGroup(int group)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(group);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(group, Layout.GroupCount);
    }

    /// <summary>Refuses a value that is not a <see cref="StatePrecision"/> (the one check, also the GPU optimizer's).</summary>
    internal static void ThrowIfUndefined(StatePrecision precision, string parameter)
    {
        if (precision is not (StatePrecision.Float32 or StatePrecision.BFloat16 or StatePrecision.Int8Blockwise or StatePrecision.Int4Blockwise))
        {
            throw new ArgumentOutOfRangeException(parameter, precision, "Unknown state precision.");
        }
    }

    private static bool IsBlockwise(StatePrecision precision) => precision is StatePrecision.Int8Blockwise or StatePrecision.Int4Blockwise;

    /// <summary>Each group's precision when the optimizer's is <paramref name="precision"/> and the groups' own are <paramref name="own"/>.</summary>
    private StatePrecision[] EffectivePrecisions(StatePrecision precision, StatePrecision?[]? own)
    {
        var groups = new StatePrecision[Layout.GroupCount];
        for (int g = 0; g < groups.Length; g++)
        {
            groups[g] = own?[g] ?? precision;
        }

        return groups;
    }

    /// <summary>Whether every group of <paramref name="groups"/> has the same precision.</summary>
    private static bool IsUniform(StatePrecision[] groups) => Array.TrueForAll(groups, p => p == groups[0]);

    /// <summary>
    /// Converts the stored state to the per-group precisions <paramref name="groups"/> (nothing when they are the
    /// stored ones): the new state is built completely, then swapped in, so a failure leaves the old one. A tensor
    /// stored the same way before and after is copied bit for bit; another is read as float32 and written in its new
    /// codec.
    /// </summary>
    /// <exception cref="NotSupportedException">The rule cannot store its state so; nothing was changed.</exception>
    private void ConvertState(StatePrecision[] groups, string parameter, string operation)
    {
        bool anyBlockwise = Array.Exists(groups, IsBlockwise);
        if (anyBlockwise && Descriptor.States.Count > BlockwiseDriver.MaxPlanes)
        {
            throw new NotSupportedException($"Blockwise state supports rules with at most {BlockwiseDriver.MaxPlanes} state buffers; '{Descriptor.Name}' has {Descriptor.States.Count} ({parameter}). Nothing was changed.");
        }

        bool uniform = IsUniform(groups);
        if (!uniform && HasCompactState && Array.Exists(groups, p => p == StatePrecision.BFloat16))
        {
            throw new NotSupportedException($"'{Descriptor.Name}' keeps compact state (one value per row, column or block) that its passes read between tensors in one codec: bfloat16 state is for every group or none; groups may mix float32, 8-bit and 4-bit state ({parameter}). Nothing was changed.");
        }

        bool same = true;
        for (int g = 0; g < groups.Length; g++)
        {
            same &= groups[g] == StatePrecisionOf(g);
        }

        if (same)
        {
            return;
        }

        ThrowIfStateHeld(operation);
        StateView source = StateView;
        StateView target;
        // The same extents as now: compact state keeps its shape.
        StateExtents? extents = HasCompactState ? CurrentExtents() : null;
        if (uniform && !IsBlockwise(groups[0]))
        {
            int size = groups[0] == StatePrecision.Float32 ? sizeof(float) : sizeof(ushort);
            target = new StateView(_blockwise is null ? _state.Like(size) : extents is null ? NewState(_groupHyperparameters, size) : new StateStorage(extents, size), null, Layout);
        }
        else
        {
            target = new StateView(BlockwisePlaceholder(), CreateBlockwise(groups, extents), Layout);
        }

        float[]? values = null;
        for (int k = 0; k < Descriptor.States.Count; k++)
        {
            for (int j = 0; j < Layout.TensorCount; j++)
            {
                if (source.BitsOf(k, j) == target.BitsOf(k, j))
                {
                    source.CopyTo(target, k, j);
                    continue;
                }

                values ??= new float[MaxExtent()];
                Span<float> tensor = values.AsSpan(0, source.LengthOf(k, j));
                source.Read(k, j, tensor);
                target.Write(k, j, tensor);
            }
        }

        _state = target.State;
        _blockwise = target.Blockwise;
    }

    /// <summary>
    /// New, zeroed per-tensor state for the per-group precisions <paramref name="groups"/>; a rule with compact state
    /// gives it <paramref name="extents"/> (default: those of the stored hyperparameters), and its compact planes (and
    /// those its passes cannot stage: <see cref="KeepsFloat32"/>) are float32 in quantized tensors.
    /// </summary>
    private BlockwiseState CreateBlockwise(StatePrecision[] groups, StateExtents? extents = null)
    {
        var bitsOf = new int[Layout.TensorCount];
        for (int j = 0; j < bitsOf.Length; j++)
        {
            // A rule without state has nothing to store: every tensor goes through the plain kernel.
            bitsOf[j] = Descriptor.States.Count == 0 ? 0 : TensorBits(groups[Layout.GroupOf(j)], ThresholdLengthOf(j));
        }

        var signed = new bool[Descriptor.States.Count];
        for (int k = 0; k < signed.Length; k++)
        {
            signed[k] = !Descriptor.States[k].IsNonNegative;
        }

        bool[]? float32 = null;
        for (int k = 0; k < signed.Length; k++)
        {
            if (KeepsFloat32(k))
            {
                float32 ??= new bool[signed.Length];
                float32[k] = true;
            }
        }

        return new BlockwiseState(Layout, bitsOf, signed, HasCompactState ? extents ?? ExtentsFor(_groupHyperparameters) : null, float32);
    }

    /// <summary>
    /// Whether blockwise state keeps state buffer <paramref name="plane"/> in float32 in every tensor: a compact
    /// buffer (<see cref="IsCompact"/>), or one a multi-pass rule's passes cannot stage per block.
    /// </summary>
    private protected virtual bool KeepsFloat32(int plane) => IsCompact(plane);

    /// <summary>Each tensor's extent in each state buffer as stored now (a rule with compact state).</summary>
    private StateExtents CurrentExtents()
    {
        int[][] lengths = new int[Descriptor.States.Count][];
        for (int k = 0; k < lengths.Length; k++)
        {
            lengths[k] = new int[Layout.TensorCount];
            for (int j = 0; j < Layout.TensorCount; j++)
            {
                lengths[k][j] = StoredLengthOf(k, j);
            }
        }

        return new StateExtents(lengths);
    }

    /// <summary>How a tensor of <paramref name="length"/> elements (on one process; see <see cref="ThresholdLengthOf"/>) is stored with <paramref name="precision"/>: 0 float32, 16 bfloat16, 8 or 4 bits (float32 below <see cref="BlockwiseThreshold"/>).</summary>
    private static int TensorBits(StatePrecision precision, int length) => precision switch
    {
        StatePrecision.BFloat16 => 16,
        StatePrecision.Int8Blockwise when length >= BlockwiseThreshold => 8,
        StatePrecision.Int4Blockwise when length >= BlockwiseThreshold => 4,
        _ => 0,
    };

    /// <summary>Each group's stored precision (<see cref="StatePrecisionOf"/>).</summary>
    private StatePrecision[] StoredPrecisions() => EffectivePrecisions(_statePrecision, _groupStatePrecision);

    /// <summary>
    /// New per-tensor state in the stored precisions with every buffer at its initial value (Reset), 0 when it has
    /// none: written through the codec like any value, so a signed plane holds the code of +0 with absmax 0, as a
    /// fresh optimizer's converted state does (the zeroed bytes would be code 0, −1·0 = −0, and another checkpoint).
    /// </summary>
    private BlockwiseState InitializedBlockwise(StateExtents? extents = null)
    {
        BlockwiseState state = CreateBlockwise(StoredPrecisions(), extents);
        float[]? values = null;
        for (int k = 0; k < Descriptor.States.Count; k++)
        {
            int source = Descriptor.States[k].InitialValueHyperparameter;
            values ??= new float[MaxExtent(state)];
            for (int j = 0; j < Layout.TensorCount; j++)
            {
                Span<float> tensor = values.AsSpan(0, state.LengthOf(k, j));
                tensor.Fill(source < 0 ? 0f : (float)_groupHyperparameters[Layout.GroupOf(j)][source]);
                state.Write(k, j, tensor);
            }
        }

        return state;
    }

    /// <summary>The placeholder float storage while the state is blockwise: no elements, so float access fails loudly.</summary>
    private StateStorage BlockwisePlaceholder() => new(Descriptor.States.Count, 0, elementSize: 1);

    /// <summary>The elements of tensor <paramref name="tensor"/>'s part of state buffer <paramref name="plane"/> as stored now (its length unless the state is compact).</summary>
    private int StoredLengthOf(int plane, int tensor) => StateView.LengthOf(plane, tensor);

    /// <summary>The longest part of any state buffer of any tensor (as stored now, or in <paramref name="state"/>).</summary>
    private int MaxExtent(BlockwiseState? state = null)
    {
        int max = MaxTensorLength();
        for (int k = 0; k < Descriptor.States.Count; k++)
        {
            for (int j = 0; j < Layout.TensorCount; j++)
            {
                max = Math.Max(max, state?.LengthOf(k, j) ?? StoredLengthOf(k, j));
            }
        }

        return max;
    }

    private int MaxTensorLength()
    {
        int max = 0;
        for (int j = 0; j < Layout.TensorCount; j++)
        {
            max = Math.Max(max, Layout.LengthOf(j));
        }

        return max;
    }

    /// <summary>Reads tensor <paramref name="tensor"/>'s part of plane <paramref name="plane"/>, widened or dequantized to float32, in any precision.</summary>
    private void ReadTensorPlane(int plane, int tensor, Span<float> values) => StateView.Read(plane, tensor, values);

    /// <summary>
    /// Copies tensor <paramref name="tensor"/>'s part of state buffer <paramref name="name"/>, widened to float32, into
    /// <paramref name="destination"/>: <see cref="StateLength"/> values (the tensor's length unless the state is compact).
    /// </summary>
    /// <exception cref="ArgumentException">The rule has no such state buffer, or <paramref name="destination"/> is not <see cref="StateLength"/> long.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tensor"/> is not a tensor of <see cref="Layout"/>.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the optimizer.</exception>
    public void CopyState(string name, int tensor, Span<float> destination)
    {
        int index = StateIndexOf(name, tensor);

        using StepGuard guard = EnterGuard(nameof(CopyState));
        int length = StoredLengthOf(index, tensor);
        if (destination.Length != length)
        {
            throw new ArgumentException($"Tensor {tensor} has {length} elements in state buffer '{name}'; the destination has {destination.Length}.", nameof(destination));
        }

        ReadTensorPlane(index, tensor, destination);
    }
}
