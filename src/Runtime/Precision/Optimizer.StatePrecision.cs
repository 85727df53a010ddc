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
    /// kernel dequantizes each block, updates it in float32, and requantizes it in the same pass.
    /// </summary>
    Int8Blockwise = 2,

    /// <summary>
    /// 4-bit blockwise (torchao's 4-bit optimizers): blocks of 128 values, 4-bit codes (two per byte) and one float32
    /// absmax per block; torchao's signed dynamic map, or its linear map k/16 for buffers that stay ≥ 0 (Adam: 1.06
    /// bytes of state per parameter).
    /// </summary>
    Int4Blockwise = 3,
}

/// <summary>State precision.</summary>
public abstract partial class Optimizer
{
    /// <summary>
    /// With <see cref="StatePrecision.Int8Blockwise"/> or <see cref="StatePrecision.Int4Blockwise"/> state, tensors
    /// with fewer elements than this keep float32 state (as bitsandbytes' <c>min_8bit_size</c> and torchao do).
    /// </summary>
    public const int BlockwiseThreshold = 4096;

    // The state when it is blockwise-quantized (then _state is an empty placeholder that refuses float access).
    private BlockwiseState? _blockwise;
    private StatePrecision _blockwisePrecision;

    /// <summary>How the state is stored; change it with <see cref="ChangeStatePrecision"/>.</summary>
    public StatePrecision StatePrecision => _blockwise is not null
        ? _blockwisePrecision
        : _state.ElementSize == sizeof(float) ? StatePrecision.Float32 : StatePrecision.BFloat16;

    /// <summary>
    /// Bytes of optimizer state per parameter: every state buffer's bytes (codes, per-block absmax, float32 values of
    /// tensors kept in float32) over <see cref="Length"/>. Adam: 8 with float32 state, 4 with bfloat16, 2.03 with
    /// 8-bit and 1.06 with 4-bit blockwise state (on tensors above the threshold).
    /// </summary>
    public double StateBytesPerParameter => Length == 0 ? 0 : (double)StateBytes / Length;

    /// <summary>The blockwise state, or null when the state is float32 or bfloat16; read only inside the guard.</summary>
    internal BlockwiseState? Blockwise => _blockwise;

    /// <summary>
    /// Converts the state to <paramref name="precision"/>, in any direction: widening (bfloat16, 8-bit or 4-bit to
    /// float32) is exact, bfloat16 rounds every value to nearest even, and 8-bit and 4-bit quantize each block of the
    /// (dequantized) values again. With anything but float32 state, <see cref="GetState(string)"/> is unavailable:
    /// read the state with <see cref="CopyState"/>. On failure nothing is changed.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="precision"/> is not a defined value.</exception>
    /// <exception cref="NotSupportedException">Blockwise state for a rule with more than <see cref="BlockwiseDriver.MaxPlanes"/> state buffers; nothing was changed.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the optimizer; nothing was changed.</exception>
    public void ChangeStatePrecision(StatePrecision precision)
    {
        if (precision is not (StatePrecision.Float32 or StatePrecision.BFloat16 or StatePrecision.Int8Blockwise or StatePrecision.Int4Blockwise))
        {
            throw new ArgumentOutOfRangeException(nameof(precision), precision, "Unknown state precision.");
        }

        if (precision is StatePrecision.Int8Blockwise or StatePrecision.Int4Blockwise && Descriptor.States.Count > BlockwiseDriver.MaxPlanes)
        {
            throw new NotSupportedException($"Blockwise state supports rules with at most {BlockwiseDriver.MaxPlanes} state buffers; '{Descriptor.Name}' has {Descriptor.States.Count}. Nothing was changed.");
        }

        if (precision is StatePrecision.Int8Blockwise or StatePrecision.Int4Blockwise && UpdatesInPasses)
        {
            throw new NotSupportedException($"'{Descriptor.Name}' updates in several passes with reductions between them; its state is float32 or bfloat16, not blockwise. Nothing was changed.");
        }

        using StepGuard guard = EnterGuard(nameof(ChangeStatePrecision));
        if (precision == StatePrecision)
        {
            return;
        }

        ThrowIfStateHeld(nameof(ChangeStatePrecision));

        // Build the converted state completely, then swap: a failure (out of memory) leaves the old one.
        StateStorage? converted = null;
        BlockwiseState? blockwise = null;
        if (precision is StatePrecision.Int8Blockwise or StatePrecision.Int4Blockwise)
        {
            blockwise = CreateBlockwise(precision);
        }
        else
        {
            // The same extents as now (compact state keeps its shape); from blockwise state (never compact), the layout's.
            int size = precision == StatePrecision.Float32 ? sizeof(float) : sizeof(ushort);
            converted = _blockwise is null ? _state.Like(size) : NewState(_groupHyperparameters, size);
        }

        float[] values = new float[MaxExtent()];
        for (int k = 0; k < Descriptor.States.Count; k++)
        {
            for (int j = 0; j < Layout.TensorCount; j++)
            {
                Span<float> tensor = values.AsSpan(0, StoredLengthOf(k, j));
                ReadTensorPlane(k, j, tensor);
                if (blockwise is not null)
                {
                    blockwise.Write(k, j, tensor);
                }
                else if (converted!.ElementSize == sizeof(float))
                {
                    tensor.CopyTo(converted.Elements<float>(k, converted.OffsetOf(k, j, Layout), tensor.Length));
                }
                else
                {
                    Span<ushort> bits = converted.Elements<ushort>(k, converted.OffsetOf(k, j, Layout), tensor.Length);
                    for (int i = 0; i < tensor.Length; i++)
                    {
                        bits[i] = BFloat16Codec.Narrow(tensor[i]);
                    }
                }
            }
        }

        if (blockwise is not null)
        {
            _state = BlockwisePlaceholder();
            _blockwise = blockwise;
            _blockwisePrecision = precision;
        }
        else
        {
            _state = converted!;
            _blockwise = null;
        }
    }

    /// <summary>New, zeroed blockwise state of <paramref name="precision"/> for this layout and rule.</summary>
    private BlockwiseState CreateBlockwise(StatePrecision precision)
    {
        int bits = precision == StatePrecision.Int8Blockwise ? 8 : 4;
        var bitsOf = new int[Layout.TensorCount];
        for (int j = 0; j < bitsOf.Length; j++)
        {
            // A rule without state has nothing to quantize: every tensor goes through the plain kernel.
            bitsOf[j] = Layout.LengthOf(j) >= BlockwiseThreshold && Descriptor.States.Count > 0 ? bits : 0;
        }

        var signed = new bool[Descriptor.States.Count];
        for (int k = 0; k < signed.Length; k++)
        {
            signed[k] = !Descriptor.States[k].IsNonNegative;
        }

        return new BlockwiseState(Layout, bitsOf, signed);
    }

    /// <summary>New blockwise state of <paramref name="precision"/> with every buffer at its initial value (Reset).</summary>
    private BlockwiseState InitializedBlockwise(StatePrecision precision)
    {
        BlockwiseState state = CreateBlockwise(precision);
        float[]? values = null;
        for (int k = 0; k < Descriptor.States.Count; k++)
        {
            int source = Descriptor.States[k].InitialValueHyperparameter;
            if (source < 0)
            {
                continue;
            }

            values ??= new float[MaxTensorLength()];
            for (int j = 0; j < Layout.TensorCount; j++)
            {
                Span<float> tensor = values.AsSpan(0, Layout.LengthOf(j));
                tensor.Fill((float)_groupHyperparameters[Layout.GroupOf(j)][source]);
                state.Write(k, j, tensor);
            }
        }

        return state;
    }

    /// <summary>The placeholder float storage while the state is blockwise: no elements, so float access fails loudly.</summary>
    private StateStorage BlockwisePlaceholder() => new(Descriptor.States.Count, 0, elementSize: 1);

    /// <summary>The elements of tensor <paramref name="tensor"/>'s part of state buffer <paramref name="plane"/> as stored now (its length unless the state is compact).</summary>
    private int StoredLengthOf(int plane, int tensor) => _blockwise is not null ? Layout.LengthOf(tensor) : _state.LengthOf(plane, tensor, Layout);

    /// <summary>The longest part of any state buffer of any tensor.</summary>
    private int MaxExtent()
    {
        int max = MaxTensorLength();
        for (int k = 0; k < Descriptor.States.Count; k++)
        {
            for (int j = 0; j < Layout.TensorCount; j++)
            {
                max = Math.Max(max, StoredLengthOf(k, j));
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
    private void ReadTensorPlane(int plane, int tensor, Span<float> values)
    {
        if (_blockwise is not null)
        {
            _blockwise.Read(plane, tensor, values);
            return;
        }

        ReadPlane(_state, plane, _state.OffsetOf(plane, tensor, Layout), values);
    }

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

    /// <summary>Reads elements [start, start + values.Length) of plane <paramref name="k"/>, widened to float32.</summary>
    private static void ReadPlane(StateStorage state, int k, int start, Span<float> values)
    {
        if (state.ElementSize == sizeof(float))
        {
            state.Elements<float>(k, start, values.Length).CopyTo(values);
            return;
        }

        ReadOnlySpan<ushort> bits = state.Elements<ushort>(k, start, values.Length);
        for (int i = 0; i < bits.Length; i++)
        {
            values[i] = BitConverter.Int32BitsToSingle(bits[i] << 16);
        }
    }
}
