using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
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
/// float32 staging buffer holding the unit's dequantized state, one of the optimizer's own claimed for the unit (not a
/// buffer per thread: a pool thread new to the step would allocate one in a warmed-up step).</para>
/// <para>For a quantized tensor the state is written once per step, at the end of the last pass, from float32 values
/// that every pass agrees on, as bitsandbytes' 8-bit LAMB and LARS do (a preconditioning kernel computes the update
/// norm from the new moments of the dequantized old state without storing them; the update kernel recomputes the
/// moments, updates and requantizes). Here: a pass before the last runs on the unit's dequantized old state and its
/// state writes go to the buffer only (its reductions see the new float32 values); the last pass dequantizes the old
/// state again, replays the earlier passes' element work on it (their partial results are rewritten with the same
/// bits), runs, and requantizes each block of every plane the passes write. So LAMB's ‖r‖ and its update use the same
/// float32 m, v, r; each block is quantized once per step. Planes no pass reads or writes (schedule-free's saved y)
/// keep their codes.</para>
/// <para>Compact planes (one value per row, column or block: Adam-mini's and declared rules' per-block second moments,
/// Adafactor's factors) are never quantized: they stay float32 and every pass reads and writes them in place
/// (<see cref="Optimizer.KeepsFloat32"/>). Declared rules with row, column or block scopes replay their first pass
/// like the rules above, without adding its row and block sums again (<see cref="Replaying"/>). A rule whose earlier
/// passes cannot be replayed (Adam-mini and Adafactor update compact state in them) quantizes only the planes its
/// last pass alone reads or writes (Adam-mini's m), staged in that pass only, and keeps the others in float32. Units
/// start on a block of the codec in quantized tensors (<see cref="StagingGranule"/>).</para>
/// </remarks>
public abstract partial class MultiPassOptimizer
{
    /// <summary>Floats between two planes' stretches of the staging buffer beyond the unit (planes a multiple of 4 KiB apart alias in the load-store unit).</summary>
    private const int PlaneStagger = 64;

    // The window of the unit being run on this thread, in fields of primitive types: a thread static of a struct type is
    // boxed per thread, so each thread new to the step allocated 312 bytes on its first staged unit.
    [ThreadStatic]
    private static nint t_windowBase;

    [ThreadStatic]
    private static nuint t_windowStride;

    [ThreadStatic]
    private static int t_windowStart;

    [ThreadStatic]
    private static bool t_windowStaged;

    [ThreadStatic]
    private static bool t_replaying;

    // Per pass: whether it, or a pass before it, reads a state plane. Per plane: whether a pass reads (writes) it,
    // and whether the last pass alone names it.
    private readonly (bool[] Passes, bool[] Planes) _stagedReads;
    private readonly bool[] _stagedWrites;
    private readonly bool[] _lastPassOnly;

    // The per-tensor state of the step being run (null: the state is one StateStorage with one codec).
    private BlockwiseState? _staged;

    // Staging buffers for quantized units, claimed one per running unit (1 = claimed): at least as many as the step's
    // threads (EnsureStagingSlots), so a claim always finds one free; a buffer is made or grown only when a unit needs
    // more than its slot holds (the first steps), never because a thread is new.
    private float[]?[] _stagingBuffers = [];
    private int[] _stagingClaims = [];

    /// <summary>
    /// The work units of the rule's passes, when every pass reads and writes state only element by element inside the
    /// unit it runs, and writes parameters only in the last pass (so a unit's state can be staged: read before a pass,
    /// written after the last, the earlier passes replayed); null when the rule keeps compact state or its passes
    /// reach across units (then it stages in its last pass only: see the type's remarks). Each unit lies in one tensor
    /// and starts on a multiple of 256 elements.
    /// </summary>
    private protected virtual Piece[]? StageableUnits => null;

    /// <summary>The work units of the step being run, as <see cref="RunUnit{TParameter, TGradient, TState}"/> numbers them (a rule without <see cref="StageableUnits"/> overrides it).</summary>
    private protected virtual Piece[] PassUnits => StageableUnits!;

    /// <summary>
    /// The work units of pass <paramref name="pass"/> (<see cref="PassUnits"/> unless a rule cuts its passes
    /// differently: only a rule that stages its last pass alone may, as <see cref="AdamMini"/> does, whose reduction
    /// units are whole blocks and whose last pass's units in quantized tensors whole blocks of the codec).
    /// </summary>
    private protected virtual Piece[] UnitsOf(int pass) => PassUnits;

    /// <summary>
    /// Whether the last pass may replay the earlier passes' element work on a staged unit (see the type's remarks):
    /// true for rules with <see cref="StageableUnits"/>, and for a rule whose earlier passes, replayed, write nothing
    /// but the unit's staged state and partial results rewritten with the same bits (<see cref="Replaying"/> tells
    /// it). A rule that cannot (an earlier pass updates compact state in place) quantizes only the planes its last
    /// pass alone touches.
    /// </summary>
    private protected virtual bool ReplaysEarlierPasses => StageableUnits is not null;

    /// <summary>Whether the unit being run on this thread replays an earlier pass inside the last one (its results are already combined).</summary>
    private protected static bool Replaying => t_replaying;

    /// <inheritdoc/>
    private protected sealed override bool KeepsFloat32(int plane) =>
        IsCompact(plane) || (!ReplaysEarlierPasses && !_lastPassOnly[plane]);

    /// <summary>
    /// The elements a work unit of tensor <paramref name="tensor"/> must start on (a multiple of) so that the last
    /// pass can stage its state: the codec's block (256 or 128) when the tensor is quantized and some plane is, else 1.
    /// Read inside a step (or the guard).
    /// </summary>
    private protected int StagingGranule(int tensor)
    {
        if (Blockwise is not { } state || !state.IsQuantized(tensor))
        {
            return 1;
        }

        for (int k = 0; k < state.Count; k++)
        {
            if (!state.IsFloat32Plane(k))
            {
                return BlockwiseCodebook.For(state.BitsOf(tensor), true).BlockLength;
            }
        }

        return 1;
    }

    /// <summary>Whether the tensors' <see cref="StagingGranule"/>s differ from <paramref name="key"/> (which then takes them); allocates only when the tensor count changes.</summary>
    private protected bool StagingGranulesChanged(ref int[] key)
    {
        bool changed = key.Length != Layout.TensorCount;
        if (changed)
        {
            key = new int[Layout.TensorCount];
        }

        for (int j = 0; j < key.Length; j++)
        {
            int granule = StagingGranule(j);
            changed |= key[j] != granule;
            key[j] = granule;
        }

        return changed;
    }

    /// <summary>Which planes each pass reads and writes, from the passes' streams (a state the passes do not name is taken as read and written).</summary>
    private static ((bool[] Passes, bool[] Planes) Reads, bool[] Writes, bool[] LastPassOnly) StagedPlanes(OptimizerDescriptor descriptor, IReadOnlyList<PassTraffic> passes)
    {
        int count = descriptor.States.Count;
        var readsPlane = new bool[count];
        var writesPlane = new bool[count];
        var readsByPass = new bool[passes.Count];
        var lastOnly = new bool[count];
        for (int k = 0; k < count; k++)
        {
            string symbol = descriptor.States[k].Symbol;
            lastOnly[k] = passes.Count > 0 && (passes[^1].Reads.Contains(symbol) || passes[^1].Writes.Contains(symbol));
            for (int pass = 0; pass < passes.Count - 1; pass++)
            {
                lastOnly[k] &= !passes[pass].Reads.Contains(symbol) && !passes[pass].Writes.Contains(symbol);
            }
        }

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

        return ((readsByPass, readsPlane), writesPlane, lastOnly);
    }

    /// <summary>
    /// The state of <paramref name="plane"/> of <paramref name="tensor"/> at element <paramref name="start"/> of its
    /// extent: in the staging buffer of the unit being run on this thread when the unit is staged and the plane is
    /// quantized, else in place in the float32 or bfloat16 values that hold it.
    /// </summary>
    private unsafe ref byte StagedState<TState>(int plane, int tensor, int start)
        where TState : struct, IElementCodec
    {
        StageWindow w = Window;
        BlockwiseState state = _staged!;
        if (w.Staged && !state.IsFloat32Plane(plane))
        {
            return ref *(byte*)(w.Base + ((((nint)plane * (nint)w.Stride) + start - w.Start) * TState.ElementSize));
        }

        StateStorage values = state.BitsOf(tensor) == 16 ? state.Narrow : state.Small;
        return ref Unsafe.AddByteOffset(ref Unsafe.As<float, byte>(ref values.Base), (nint)((values.PlaneStart(plane) + state.FloatOffsetOf(plane, tensor) + start) * TState.ElementSize));
    }

    /// <summary>Pass <paramref name="pass"/> over unit <paramref name="unit"/> with per-tensor state (see the type's remarks); runs on any thread, must not throw.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void RunStaged<TParameter, TGradient>(int pass, int unit, BlockwiseState state)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
    {
        Piece u = UnitsOf(pass)[unit];
        int bits = state.BitsOf(u.Tensor);
        bool replays = ReplaysEarlierPasses;
        Debug.Assert(!replays || ReferenceEquals(UnitsOf(pass), PassUnits), "a rule that replays earlier passes runs them over the last pass's units: its passes share one set of units");
        bool last = pass == Passes.Count - 1;
        if (bits is 0 or 16 || StagingGranule(u.Tensor) == 1 || (!replays && !last))
        {
            // In place, in the tensor's own codec: the same bits as a uniform float32 or bfloat16 optimizer (or, before
            // the last pass of a rule that stages only there, the float32 planes: the quantized ones are not touched).
            Window = new StageWindow(0, (nuint)(bits == 16 ? state.Narrow : state.Small).Stride, u.Start, Staged: false);
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
        int slot = ClaimStagingSlot();
        try
        {
            float[] buffer = _stagingBuffers[slot] is { } held && held.Length >= planes * stride
                ? held
                : _stagingBuffers[slot] = GC.AllocateUninitializedArray<float>(planes * Math.Max(stride, StepPlan.PieceLength + PlaneStagger), pinned: true);
            RunStagedIn<TParameter, TGradient>(pass, unit, state, u, planes, stride, replays, (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer)));
        }
        finally
        {
            Volatile.Write(ref _stagingClaims[slot], 0);
        }
    }

    /// <summary>Makes sure at least <paramref name="threads"/> staging slots exist; on the calling thread, before a step's units run.</summary>
    private void EnsureStagingSlots(int threads)
    {
        if (_stagingClaims.Length < threads)
        {
            Array.Resize(ref _stagingBuffers, threads);
            _stagingClaims = new int[threads];
        }
    }

    /// <summary>A free staging slot, claimed for the unit: at most as many units run at once as there are slots.</summary>
    private int ClaimStagingSlot()
    {
        for (int slot = 0; ; slot = slot + 1 == _stagingClaims.Length ? 0 : slot + 1)
        {
            if (Interlocked.CompareExchange(ref _stagingClaims[slot], 1, 0) == 0)
            {
                return slot;
            }
        }
    }

    /// <summary>The staged part of <see cref="RunStaged{TParameter, TGradient}"/>, with the unit's staging buffer at <paramref name="stage"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void RunStagedIn<TParameter, TGradient>(int pass, int unit, BlockwiseState state, Piece u, int planes, int stride, bool replays, float* stage)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
    {
        Window = new StageWindow((nint)stage, (nuint)stride, u.Start, Staged: true);

        BlockwiseCodebook[] books = state.Codebooks(u.Tensor);
        int blockLength = books[0].BlockLength;
        Debug.Assert(u.Start % blockLength == 0, "units start on a block");
        int firstBlock = u.Start / blockLength;
        if (_stagedReads.Passes[pass])
        {
            for (int k = 0; k < planes; k++)
            {
                if (!_stagedReads.Planes[k] || state.IsFloat32Plane(k))
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
        t_replaying = true;
        for (int earlier = 0; replays && earlier < pass; earlier++)
        {
            RunUnit<TParameter, TGradient, Float32Codec>(earlier, unit);
        }

        t_replaying = false;

        RunUnit<TParameter, TGradient, Float32Codec>(pass, unit);
        if (pass != Passes.Count - 1)
        {
            return;
        }

        for (int k = 0; k < planes; k++)
        {
            if (!_stagedWrites[k] || state.IsFloat32Plane(k))
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

    /// <summary>The window of the unit being run on this thread.</summary>
    private static StageWindow Window
    {
        get => new(t_windowBase, t_windowStride, t_windowStart, t_windowStaged);
        set => (t_windowBase, t_windowStride, t_windowStart, t_windowStaged) = (value.Base, value.Stride, value.Start, value.Staged);
    }

    /// <summary>
    /// Where the unit being run on this thread finds its state: when <paramref name="Staged"/>, a quantized plane k's
    /// element i at Base + (k·Stride + i − Start) elements of the staging buffer; the other planes (all of them when
    /// not staged) in place; <paramref name="Stride"/> is the kernels' plane stride (<see cref="StateStride"/>).
    /// </summary>
    [StructLayout(LayoutKind.Auto)]
    private readonly record struct StageWindow(nint Base, nuint Stride, int Start, bool Staged);
}
