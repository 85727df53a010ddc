using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using OptGen.Engine;
using OptGen.Kernels;

namespace OptGen;

/// <content>
/// Per-tensor state for multi-pass rules: blockwise-quantized state (<see cref="StatePrecision.Int8Blockwise"/>,
/// <see cref="StatePrecision.Int4Blockwise"/>) and a precision per parameter group.
/// </content>
/// <remarks>
/// <para>When the state is stored per tensor (<see cref="Optimizer.Blockwise"/>), each pass runs unit by unit with the
/// unit's state seen through a window: a float32 or bfloat16 tensor's window is its own storage (the pass runs with
/// that codec in place, exactly as a uniform optimizer of that precision does); a quantized tensor's window is a
/// per-thread float32 buffer holding the unit's dequantized state.</para>
/// <para>For a quantized tensor the state is written once per step, at the end of the last pass, from float32 values
/// that every pass agrees on, as bitsandbytes' 8-bit LAMB and LARS do (a preconditioning kernel computes the update
/// norm from the new moments of the dequantized old state without storing them; the update kernel recomputes the
/// moments, updates and requantizes). Here: a pass before the last runs on the unit's dequantized old state and its
/// state writes go to the buffer only (its reductions see the new float32 values); the last pass dequantizes the old
/// state again, replays the earlier passes' element work on it (their partial results are rewritten with the same
/// bits), runs, and requantizes each block of every plane the passes write. So LAMB's ‖r‖ and its update use the same
/// float32 m, v, r; each block is quantized once per step. Planes no pass reads or writes (schedule-free's saved y)
/// keep their codes.</para>
/// </remarks>
public abstract partial class MultiPassOptimizer
{
    /// <summary>Floats between two planes' stretches of the staging buffer beyond the unit (planes a multiple of 4 KiB apart alias in the load-store unit).</summary>
    private const int PlaneStagger = 64;

    [ThreadStatic]
    private static float[]? t_buffer;

    [ThreadStatic]
    private static StageWindow t_window;

    // Per pass: whether it, or a pass before it, reads a state plane. Per plane: whether a pass reads (writes) it.
    private readonly (bool[] Passes, bool[] Planes) _stagedReads;
    private readonly bool[] _stagedWrites;

    // The per-tensor state of the step being run (null: the state is one StateStorage with one codec).
    private BlockwiseState? _staged;

    /// <summary>
    /// The work units of the rule's passes, when every pass reads and writes state only element by element inside the
    /// unit it runs, and writes parameters only in the last pass (so a unit's state can be staged: read before a pass,
    /// written after the last); null when the rule keeps compact state or its passes reach across units. Each unit
    /// lies in one tensor and starts on a multiple of 256 elements. A rule that returns units supports blockwise
    /// state and a state precision per parameter group.
    /// </summary>
    private protected virtual Piece[]? StageableUnits => null;

    /// <inheritdoc/>
    internal sealed override bool HasPerTensorState => StageableUnits is not null;

    /// <summary>Which planes each pass reads and writes, from the passes' streams (a state the passes do not name is taken as read and written).</summary>
    private static ((bool[] Passes, bool[] Planes) Reads, bool[] Writes) StagedPlanes(OptimizerDescriptor descriptor, IReadOnlyList<PassTraffic> passes)
    {
        int count = descriptor.States.Count;
        var readsPlane = new bool[count];
        var writesPlane = new bool[count];
        var readsByPass = new bool[passes.Count];
        bool readSoFar = false;
        for (int pass = 0; pass < passes.Count; pass++)
        {
            for (int k = 0; k < count; k++)
            {
                string symbol = descriptor.States[k].Symbol;
                bool named = false;
                foreach (PassTraffic any in passes)
                {
                    named |= any.Reads.Contains(symbol) || any.Writes.Contains(symbol);
                }

                bool reads = !named || passes[pass].Reads.Contains(symbol);
                readsPlane[k] |= reads;
                writesPlane[k] |= !named || passes[pass].Writes.Contains(symbol);
                readSoFar |= reads;
            }

            readsByPass[pass] = readSoFar;
        }

        return ((readsByPass, readsPlane), writesPlane);
    }

    /// <summary>The state of <paramref name="plane"/> at element <paramref name="start"/> of the unit being run on this thread (its window).</summary>
    private static unsafe ref byte StagedState<TState>(int plane, int start)
        where TState : struct, IElementCodec
    {
        StageWindow w = t_window;
        return ref *(byte*)(w.Base + ((((nint)plane * (nint)w.Stride) + start - w.Start) * TState.ElementSize));
    }

    /// <summary>Pass <paramref name="pass"/> over unit <paramref name="unit"/> with per-tensor state (see the type's remarks); runs on any thread, must not throw.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void RunStaged<TParameter, TGradient>(int pass, int unit, BlockwiseState state)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
    {
        Piece u = StageableUnits![unit];
        int bits = state.BitsOf(u.Tensor);
        if (bits is 0 or 16)
        {
            // In place, in the tensor's own codec: the same bits as a uniform float32 or bfloat16 optimizer.
            StateStorage values = bits == 16 ? state.Narrow : state.Small;
            nint origin = (nint)Unsafe.AsPointer(ref values.Base) + ((nint)(state.FloatOffsetOf(u.Tensor) + u.Start) * values.ElementSize);
            t_window = new StageWindow(origin, (nuint)values.Stride, u.Start);
            if (bits == 16)
            {
                RunUnit<TParameter, TGradient, BFloat16Codec>(pass, unit);
            }
            else
            {
                RunUnit<TParameter, TGradient, Float32Codec>(pass, unit);
            }

            return;
        }

        int planes = state.Count;
        int stride = ((u.Length + 15) & ~15) + PlaneStagger;
        float[] buffer = t_buffer is { } held && held.Length >= planes * stride
            ? held
            : t_buffer = GC.AllocateUninitializedArray<float>(planes * Math.Max(stride, StepPlan.PieceLength + PlaneStagger), pinned: true);
        float* stage = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        t_window = new StageWindow((nint)stage, (nuint)stride, u.Start);

        BlockwiseCodebook[] books = state.Codebooks(u.Tensor);
        int blockLength = books[0].BlockLength;
        Debug.Assert(u.Start % blockLength == 0, "units start on a block");
        int firstBlock = u.Start / blockLength;
        if (_stagedReads.Passes[pass])
        {
            for (int k = 0; k < planes; k++)
            {
                if (!_stagedReads.Planes[k])
                {
                    continue;
                }

                BlockwiseCodebook book = books[k];
                ref byte codes = ref MemoryMarshal.GetReference(state.Codes(k, u.Tensor));
                Span<float> absmax = state.Absmax(k, u.Tensor);
                for (int j = 0, block = firstBlock; j < u.Length; j += blockLength, block++)
                {
                    BlockwiseBlock.Dequantize(book, ref Unsafe.Add(ref codes, (nint)BlockwiseBlock.CodeBytes(u.Start + j, book.Bits)), absmax[block], new Span<float>(stage + (k * stride) + j, Math.Min(blockLength, u.Length - j)));
                }
            }
        }

        // The earlier passes' element work again, on the old state: the values they stored (and reduced) are the ones
        // this pass reads. They write no parameters; their partials come out with the same bits.
        for (int earlier = 0; earlier < pass; earlier++)
        {
            RunUnit<TParameter, TGradient, Float32Codec>(earlier, unit);
        }

        RunUnit<TParameter, TGradient, Float32Codec>(pass, unit);
        if (pass != Passes.Count - 1)
        {
            return;
        }

        for (int k = 0; k < planes; k++)
        {
            if (!_stagedWrites[k])
            {
                continue;
            }

            BlockwiseCodebook book = books[k];
            ref byte codes = ref MemoryMarshal.GetReference(state.Codes(k, u.Tensor));
            Span<float> absmax = state.Absmax(k, u.Tensor);
            for (int j = 0, block = firstBlock; j < u.Length; j += blockLength, block++)
            {
                var values = new ReadOnlySpan<float>(stage + (k * stride) + j, Math.Min(blockLength, u.Length - j));
                absmax[block] = BlockwiseBlock.Absmax(values);
                BlockwiseBlock.Quantize(book, values, absmax[block], ref Unsafe.Add(ref codes, (nint)BlockwiseBlock.CodeBytes(u.Start + j, book.Bits)));
            }
        }
    }

    /// <summary>Where the unit being run on this thread finds its state: plane k's element i at Base + (k·Stride + i − Start) elements.</summary>
    [StructLayout(LayoutKind.Auto)]
    private readonly record struct StageWindow(nint Base, nuint Stride, int Start);
}
