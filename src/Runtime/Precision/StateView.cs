using System;

namespace OptGen;

/// <summary>
/// The per-element state as it is stored, read and written per tensor and plane whatever the representation: one
/// <see cref="StateStorage"/> of float32 or bfloat16 values (one precision for every tensor, possibly compact), or a
/// <see cref="BlockwiseState"/> whose tensors each keep their own codec (8-bit or 4-bit codes, bfloat16 or float32
/// values, and compact planes in float32). The one place that knows which; conversions, reads and checkpoints go through it.
/// </summary>
/// <param name="State">The float32 or bfloat16 storage, or the empty placeholder when <paramref name="Blockwise"/> is set.</param>
/// <param name="Blockwise">The per-tensor storage, or null.</param>
/// <param name="Layout">The tensors.</param>
internal readonly record struct StateView(StateStorage State, BlockwiseState? Blockwise, ParameterLayout Layout)
{
    /// <summary>How tensor <paramref name="tensor"/> is stored: 0 float32, 16 bfloat16, 8 or 4 bits per code.</summary>
    public int BitsOf(int tensor) => Blockwise is { } blockwise
        ? blockwise.BitsOf(tensor)
        : State.ElementSize == sizeof(float) ? 0 : 16;

    /// <summary>How tensor <paramref name="tensor"/>'s part of plane <paramref name="plane"/> is stored: <see cref="BitsOf(int)"/>, but 0 for a compact plane of a quantized tensor (kept in float32).</summary>
    public int BitsOf(int plane, int tensor) => Blockwise is { } blockwise ? blockwise.BitsOf(plane, tensor) : BitsOf(tensor);

    /// <summary>The values of tensor <paramref name="tensor"/>'s part of plane <paramref name="plane"/> (its length unless the state is compact).</summary>
    public int LengthOf(int plane, int tensor) => Blockwise is { } blockwise ? blockwise.LengthOf(plane, tensor) : State.LengthOf(plane, tensor, Layout);

    /// <summary>Tensor <paramref name="tensor"/>'s float32 values in plane <paramref name="plane"/>; <see cref="BitsOf(int, int)"/> must be 0.</summary>
    public Span<float> Floats(int plane, int tensor) => Blockwise is { } blockwise
        ? blockwise.Floats(plane, tensor)
        : State.Elements<float>(plane, State.OffsetOf(plane, tensor, Layout), State.LengthOf(plane, tensor, Layout));

    /// <summary>Tensor <paramref name="tensor"/>'s bfloat16 bits in plane <paramref name="plane"/>; <see cref="BitsOf(int, int)"/> must be 16.</summary>
    public Span<ushort> BFloats(int plane, int tensor) => Blockwise is { } blockwise
        ? blockwise.BFloats(plane, tensor)
        : State.Elements<ushort>(plane, State.OffsetOf(plane, tensor, Layout), State.LengthOf(plane, tensor, Layout));

    /// <summary>Reads tensor <paramref name="tensor"/>'s part of plane <paramref name="plane"/>, widened or dequantized to float32.</summary>
    public void Read(int plane, int tensor, Span<float> values)
    {
        if (Blockwise is { } blockwise)
        {
            blockwise.Read(plane, tensor, values);
        }
        else if (State.ElementSize == sizeof(float))
        {
            Floats(plane, tensor).CopyTo(values);
        }
        else
        {
            Span<ushort> bits = BFloats(plane, tensor);
            for (int i = 0; i < bits.Length; i++)
            {
                values[i] = BitConverter.Int32BitsToSingle(bits[i] << 16);
            }
        }
    }

    /// <summary>Writes float32 <paramref name="values"/> into tensor <paramref name="tensor"/>'s part of plane <paramref name="plane"/>: copied, rounded to bfloat16 (nearest even) or quantized per block.</summary>
    public void Write(int plane, int tensor, ReadOnlySpan<float> values)
    {
        if (Blockwise is { } blockwise)
        {
            blockwise.Write(plane, tensor, values);
        }
        else if (State.ElementSize == sizeof(float))
        {
            values.CopyTo(Floats(plane, tensor));
        }
        else
        {
            Span<ushort> bits = BFloats(plane, tensor);
            for (int i = 0; i < bits.Length; i++)
            {
                bits[i] = Kernels.BFloat16Codec.Narrow(values[i]);
            }
        }
    }

    /// <summary>
    /// Copies tensor <paramref name="tensor"/>'s part of plane <paramref name="plane"/> to <paramref name="target"/>
    /// as stored (values, or codes and absmax), bit for bit; both must store the tensor the same way.
    /// </summary>
    public void CopyTo(StateView target, int plane, int tensor)
    {
        switch (BitsOf(plane, tensor))
        {
            case 0:
                Floats(plane, tensor).CopyTo(target.Floats(plane, tensor));
                break;
            case 16:
                BFloats(plane, tensor).CopyTo(target.BFloats(plane, tensor));
                break;
            default:
                Blockwise!.Codes(plane, tensor).CopyTo(target.Blockwise!.Codes(plane, tensor));
                Blockwise.Absmax(plane, tensor).CopyTo(target.Blockwise.Absmax(plane, tensor));
                break;
        }
    }
}
