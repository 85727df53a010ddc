using System;
using System.Runtime.InteropServices;
using OptGen.Kernels;

namespace OptGen;

/// <summary>
/// Checkpoints of blockwise-quantized state and of a state precision per group. One precision for every group: flag
/// bit 0 (bfloat16), 1 (8-bit) or 2 (4-bit), format version 1, byte for byte as before groups had precisions. Groups
/// of different precisions: format version 2 and flag bit 3, and each group's entry in the layout carries one byte
/// after its tensor count, the group's <see cref="StatePrecision"/> value. Either way, when some group is 8-bit or
/// 4-bit, one byte per state buffer (1: signed map, 0: unsigned; a loader whose buffers map otherwise refuses the
/// file) follows the carried host scalars; then per state buffer and tensor, in layout order, the tensor's state in
/// its group's precision: a quantized tensor's codes (exactly as stored: one byte per value, or two 4-bit codes per
/// byte with the even element in the high nibble) then its absmax (float32, one per block), a bfloat16 tensor's
/// 2-byte values, and a float32 tensor's (or one below <see cref="BlockwiseThreshold"/>) float32 values. Loading
/// restores the same bits, so a resumed run is bit-identical. A rule that keeps some buffers in float32 in per-tensor
/// state (<see cref="KeepsFloat32"/>: compact state, one value per row, column or block) writes format version 3: the
/// same, but a quantized tensor stores such a buffer as float32 values, and every tensor's part of a compact buffer
/// has the length its saved hyperparameters give it.
/// </summary>
public abstract partial class Optimizer
{
    /// <summary>Flag bit 1: the state is 8-bit blockwise.</summary>
    private const uint Int8BlockwiseStateFlag = 2;

    /// <summary>Flag bit 2: the state is 4-bit blockwise.</summary>
    private const uint Int4BlockwiseStateFlag = 4;

    /// <summary>Flag bit 3 (format version 2): each group has its own precision, a byte in its layout entry.</summary>
    private const uint GroupPrecisionFlag = 8;

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

    /// <summary>The one precision of <paramref name="precisions"/> (every group's, all equal), or the optimizer's when there is no group.</summary>
    private StatePrecision UniformPrecision(StatePrecision[] precisions) => precisions.Length == 0 ? _statePrecision : precisions[0];

    /// <summary>Whether a checkpoint of state with these per-group precisions stores the signedness bytes (some group is 8-bit or 4-bit).</summary>
    private bool HasSignedness(StatePrecision[] precisions) =>
        IsUniform(precisions) ? IsBlockwise(UniformPrecision(precisions)) : Array.Exists(precisions, IsBlockwise);

    /// <summary>
    /// Hands every checkpointed byte run of <paramref name="state"/> to <paramref name="visit"/>, in the format's
    /// order (per plane, per tensor), values in pieces of at most <see cref="ChunkElements"/> so no span exceeds 2 GiB.
    /// </summary>
    private void VisitStateBytes(StateView state, SpanAction visit)
    {
        for (int k = 0; k < Descriptor.States.Count; k++)
        {
            for (int j = 0; j < Layout.TensorCount; j++)
            {
                int bits = state.BitsOf(k, j);
                if (bits is 8 or 4)
                {
                    BlockwiseState blockwise = state.Blockwise!;
                    visit(blockwise.Codes(k, j)[..(int)BlockwiseBlock.CodeBytes(Layout.LengthOf(j), bits)]);
                    visit(MemoryMarshal.AsBytes(blockwise.Absmax(k, j)));
                    continue;
                }

                int length = state.LengthOf(k, j);
                for (int start = 0; start < length; start += ChunkElements)
                {
                    int count = Math.Min(ChunkElements, length - start);
                    visit(bits == 0
                        ? MemoryMarshal.AsBytes(state.Floats(k, j).Slice(start, count))
                        : MemoryMarshal.AsBytes(state.BFloats(k, j).Slice(start, count)));
                }
            }
        }
    }

    /// <summary>
    /// The state precisions of a checkpoint being read, group by group (the flag's, or each group's byte), compared
    /// with this optimizer's as they are read; nothing of the file's length is kept.
    /// </summary>
    private sealed class PrecisionCheck(Optimizer owner, bool perGroup, StatePrecision filePrecision)
    {
        private StatePrecision? _first;
        private bool _differ;
        private bool _anyBlockwise;
        private int _mismatchGroup = -1;
        private StatePrecision _mismatchFile;

        /// <summary>Whether the file stores the signedness bytes (some group is 8-bit or 4-bit).</summary>
        public bool HasSignedness => perGroup ? _anyBlockwise : IsBlockwise(filePrecision);

        /// <summary>Whether every group's precision is this optimizer's (checked for the groups both have; the layout is compared on its own).</summary>
        public bool Same => _mismatchGroup < 0 && (owner.Layout.GroupCount > 0 || perGroup || filePrecision == owner._statePrecision);

        /// <summary>Group <paramref name="group"/>'s precision: its byte (read here) or the flag's.</summary>
        public StatePrecision Read(HashingReader reader, int group)
        {
            StatePrecision precision = filePrecision;
            if (perGroup)
            {
                Span<byte> value = stackalloc byte[1];
                reader.Read(value);
                if (value[0] > (byte)StatePrecision.Int4Blockwise)
                {
                    throw new CheckpointException(CheckpointError.Corrupted, "group precision", $"The checkpoint's state precision of group {group}, {value[0]}, is not a StatePrecision.");
                }

                precision = (StatePrecision)value[0];
                _differ |= _first is { } first && first != precision;
                _first ??= precision;
                _anyBlockwise |= IsBlockwise(precision);
            }

            if (_mismatchGroup < 0 && group < owner.Layout.GroupCount && owner.StatePrecisionOf(group) != precision)
            {
                _mismatchGroup = group;
                _mismatchFile = precision;
            }

            return precision;
        }

        /// <summary>Refuses a per-group section in which every group has the same precision (a writer stores one precision in the flag).</summary>
        public void ThrowIfNotPerGroup()
        {
            if (perGroup && !_differ)
            {
                throw new CheckpointException(CheckpointError.Corrupted, "flags", $"The checkpoint has a precision per group (flag bit 3), but every group's is {_first?.ToString() ?? "absent (no group)"}.");
            }
        }

        /// <summary>The rejection when <see cref="Same"/> is false.</summary>
        public CheckpointException Mismatch() =>
            _mismatchGroup < 0 || (!perGroup && !owner.HasGroupStatePrecision)
                ? new CheckpointException(CheckpointError.WrongShape, "flags", $"The checkpoint stores the state as {filePrecision}; this optimizer's state is {owner.StatePrecision}. Call ChangeStatePrecision first.")
                : new CheckpointException(CheckpointError.WrongShape, "group precision", $"The checkpoint stores group {_mismatchGroup}'s state as {_mismatchFile}; this optimizer stores it as {owner.StatePrecisionOf(_mismatchGroup)}. Give the group that precision first (ChangeStatePrecision, or Groups[{_mismatchGroup}].StatePrecision).");
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
                if (state.BitsOf(k, j) is not (8 or 4))
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

    /// <summary>Whether per-tensor state of this rule keeps some buffer in float32 or is compact (checkpoint format version 3).</summary>
    private bool KeepsFloat32Planes
    {
        get
        {
            bool any = HasCompactState;
            for (int k = 0; k < Descriptor.States.Count; k++)
            {
                any |= KeepsFloat32(k);
            }

            return any;
        }
    }

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
