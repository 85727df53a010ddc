using System;
using System.Runtime.InteropServices;
using OptGen.Kernels;

namespace OptGen;

/// <summary>
/// Checkpoints of blockwise-quantized state: flag bit 1 (8-bit) or 2 (4-bit); one byte per state buffer (1: signed
/// map, 0: unsigned; a loader whose buffers map otherwise refuses the file); then per state buffer and tensor, in
/// layout order, a quantized tensor's codes (exactly as stored: one byte per value, or two 4-bit codes per byte with
/// the even element in the high nibble) then its absmax (float32, one per block), and a tensor below
/// <see cref="BlockwiseThreshold"/> its float32 values. Loading restores the same bits, so a resumed run is
/// bit-identical.
/// </summary>
public abstract partial class Optimizer
{
    /// <summary>Flag bit 1: the state is 8-bit blockwise.</summary>
    private const uint Int8BlockwiseStateFlag = 2;

    /// <summary>Flag bit 2: the state is 4-bit blockwise.</summary>
    private const uint Int4BlockwiseStateFlag = 4;

    private static uint PrecisionFlag(StatePrecision precision) => precision switch
    {
        StatePrecision.BFloat16 => BFloat16StateFlag,
        StatePrecision.Int8Blockwise => Int8BlockwiseStateFlag,
        StatePrecision.Int4Blockwise => Int4BlockwiseStateFlag,
        _ => 0u,
    };

    private static StatePrecision PrecisionOfFlag(uint flag) => flag switch
    {
        BFloat16StateFlag => StatePrecision.BFloat16,
        Int8BlockwiseStateFlag => StatePrecision.Int8Blockwise,
        Int4BlockwiseStateFlag => StatePrecision.Int4Blockwise,
        _ => StatePrecision.Float32,
    };

    /// <summary>Bits per code of <paramref name="precision"/>: 8, 4, or 0 when it is not blockwise.</summary>
    private static int BlockwiseBits(StatePrecision precision) => precision switch
    {
        StatePrecision.Int8Blockwise => 8,
        StatePrecision.Int4Blockwise => 4,
        _ => 0,
    };

    /// <summary>
    /// The checkpoint bytes of one state buffer of a tensor of <paramref name="length"/> elements: codes and absmax
    /// when <paramref name="bits"/> is not 0 and the tensor reaches the threshold, else <paramref name="elementSize"/>-byte values.
    /// </summary>
    private static long BlockwisePlaneBytes(int length, int bits, int elementSize)
    {
        if (bits == 0 || length < BlockwiseThreshold)
        {
            return (long)length * elementSize;
        }

        int blockLength = BlockwiseCodebook.For(bits, true).BlockLength;
        return BlockwiseBlock.CodeBytes(length, bits) + (((length + (long)blockLength - 1) / blockLength) * sizeof(float));
    }

    /// <summary>Hands every checkpointed byte run of <paramref name="state"/> to <paramref name="visit"/>, in the format's order.</summary>
    private void VisitBlockwiseBytes(BlockwiseState state, SpanAction visit)
    {
        for (int k = 0; k < state.Count; k++)
        {
            for (int j = 0; j < Layout.TensorCount; j++)
            {
                int length = Layout.LengthOf(j);
                if (state.BitsOf(j) == 0)
                {
                    for (int start = 0; start < length; start += ChunkElements)
                    {
                        visit(MemoryMarshal.AsBytes(state.Small.Elements<float>(k, state.FloatOffsetOf(j) + start, Math.Min(ChunkElements, length - start))));
                    }

                    continue;
                }

                visit(state.Codes(k, j)[..(int)BlockwiseBlock.CodeBytes(length, state.BitsOf(j))]);
                visit(MemoryMarshal.AsBytes(state.Absmax(k, j)));
            }
        }
    }

    /// <summary>
    /// Refuses a block scale below zero: the encoder stores max |x| (never negative), and a negative absmax would flip
    /// the decoded values' sign (a negative second moment, whose square root is NaN).
    /// </summary>
    private void ThrowIfNegativeAbsmax(BlockwiseState state)
    {
        for (int k = 0; k < state.Count; k++)
        {
            for (int j = 0; j < Layout.TensorCount; j++)
            {
                if (state.BitsOf(j) == 0)
                {
                    continue;
                }

                Span<float> absmax = state.Absmax(k, j);
                for (int b = 0; b < absmax.Length; b++)
                {
                    if (absmax[b] < 0)
                    {
                        throw new CheckpointException(CheckpointError.Corrupted, "absmax", $"The checkpoint's absmax of block {b} of tensor {j} in state buffer {Descriptor.States[k].Name} is {absmax[b]:R}; a block's absmax is never negative.");
                    }
                }
            }
        }
    }

    private delegate void SpanAction(Span<byte> bytes);

    /// <summary>One byte per state buffer: 1 where blockwise state stores it with the signed map.</summary>
    private byte[] SignednessBytes()
    {
        byte[] signs = new byte[Descriptor.States.Count];
        for (int k = 0; k < signs.Length; k++)
        {
            signs[k] = Descriptor.States[k].IsNonNegative ? (byte)0 : (byte)1;
        }

        return signs;
    }
}
