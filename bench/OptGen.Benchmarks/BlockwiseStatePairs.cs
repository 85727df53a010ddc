// Pairs of 8-bit and 4-bit blockwise state: against the same rule with float32 state, and against a memory-only
// kernel that moves the blockwise step's bytes.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Reflection;
using System.Runtime.Intrinsics;
using OptGen.Kernels;
using System.Threading.Tasks;

namespace OptGen.Benchmarks;

/// <summary>
/// <c>int8-state/&lt;rule&gt;/&lt;n&gt;/&lt;threads&gt;</c> and <c>int4-state/…</c>: the rule with blockwise state ÷ the same rule
/// with float32 state (67108864 elements); <c>int8-floor/…</c>, <c>int4-floor/…</c>: the memory-only kernel of the
/// blockwise step's bytes (<see cref="BlockwiseYardstick"/>) ÷ that float32-state step, the lowest ratio the first pair
/// can reach on the machine; <c>int8-roofline/…</c> and <c>int4-roofline/…</c>: the rule with blockwise
/// state ÷ <see cref="BlockwiseYardstick"/>, a memory-only kernel moving the same bytes (16M and 64M). Adam, RMSprop
/// and Lion (an expression rule). All through <c>Step(Span&lt;float&gt;, ReadOnlySpan&lt;float&gt;, StepOptions)</c> on
/// pinned, page-staggered p and g (as the other extra pairs).
/// </summary>
internal static class BlockwiseStatePairs
{
    private const int StateElements = 1 << 26;
    private static readonly int[] RooflineElements = [1 << 24, 1 << 26];

    /// <summary>The pairs, when <c>--pairs</c> selects int8 or int4 (or is absent).</summary>
    public static IEnumerable<PairResult> Measure(QuickOptions options)
    {
        foreach (Func<int, Optimizer> create in new Func<int, Optimizer>[] { n => new Adam(n), n => new RmsProp(n), n => new Lion(n) })
        {
            foreach ((StatePrecision precision, string name) in new[] { (StatePrecision.Int8Blockwise, "int8"), (StatePrecision.Int4Blockwise, "int4") })
            {
                if (Selected(options, $"{name}-state") || Selected(options, $"{name}-floor"))
                {
                    Optimizer full = create(StateElements);
                    Optimizer quantized = create(StateElements);
                    quantized.ChangeStatePrecision(precision);
                    (PinnedBuffer p, PinnedBuffer g) = Extensions.Arenas(full, StateElements);
                    foreach (int threads in options.Threads)
                    {
                        var stepOptions = new StepOptions { MaxDegreeOfParallelism = threads };
                        yield return QuickRunner.Measure(
                            $"{name}-state/{quantized.Descriptor.Name}/{StateElements}/{threads}", $"{name} state", "fp32 state",
                            () => quantized.Step(p.Span, g.Span, stepOptions),
                            () => full.Step(p.Span, g.Span, stepOptions),
                            null, options);
                    }

                    // The floor of the pair above on this machine: the memory-only kernel of the quantized step's bytes
                    // ÷ the same float32-state step. No blockwise kernel can go below it.
                    var floor = new BlockwiseYardstick(StateElements, quantized.Descriptor.States.Count, name == "int8" ? 8 : 4, p, g);
                    foreach (int threads in options.Threads)
                    {
                        var stepOptions = new StepOptions { MaxDegreeOfParallelism = threads };
                        yield return QuickRunner.Measure(
                            $"{name}-floor/{quantized.Descriptor.Name}/{StateElements}/{threads}", $"memory-only ({floor.BytesPerElement:F3} B/element)", "fp32 state",
                            () => floor.Run(threads),
                            () => full.Step(p.Span, g.Span, stepOptions),
                            null, options);
                    }

                    Collect();
                }

                if (Selected(options, $"{name}-roofline"))
                {
                    foreach (int elements in RooflineElements)
                    {
                        Optimizer quantized = create(elements);
                        quantized.ChangeStatePrecision(precision);
                        (PinnedBuffer p, PinnedBuffer g) = Extensions.Arenas(create(16), elements);
                        var yardstick = new BlockwiseYardstick(elements, quantized.Descriptor.States.Count, name == "int8" ? 8 : 4, p, g);
                        double bytes = quantized.Descriptor.BytesReadPerElementWith(precision) + quantized.Descriptor.BytesWrittenPerElementWith(precision);
                        if (Math.Abs(bytes - yardstick.BytesPerElement) > 1e-9)
                        {
                            throw new InvalidOperationException($"{quantized.Descriptor.Name}: the yardstick moves {yardstick.BytesPerElement} B/element, the rule {bytes}.");
                        }

                        foreach (int threads in options.Threads)
                        {
                            var stepOptions = new StepOptions { MaxDegreeOfParallelism = threads };
                            yield return QuickRunner.Measure(
                                $"{name}-roofline/{quantized.Descriptor.Name}/{elements}/{threads}", $"{name} state", $"memory-only ({yardstick.BytesPerElement:F3} B/element)",
                                () => quantized.Step(p.Span, g.Span, stepOptions),
                                () => yardstick.Run(threads),
                                null, options);
                        }

                        Collect();
                    }
                }
            }
        }
    }

    /// <summary>
    /// <c>codec/&lt;map&gt;/&lt;piece&gt;/&lt;path&gt;</c>: one piece of the fused step (dequantize, absmax, quantize) over 64K
    /// values in blocks (L2-resident, one thread) ÷ copying the same floats; the numerator's time ÷ 65536 is the
    /// piece's cost per value. <c>int8-l2/…</c>, <c>int4-l2/…</c>: the whole blockwise step of 65536 elements (all in
    /// L2) ÷ the float32-state step of the same size: what is left of the step once memory is out of the way
    /// (the environment variable <c>OPTGEN_BLOCKWISE_L2_ELEMENTS</c> sets another size, for the sweep in BENCHMARKS.md).
    /// </summary>
    public static IEnumerable<PairResult> Breakdown(QuickOptions options)
    {
        int n = Environment.GetEnvironmentVariable("OPTGEN_BLOCKWISE_L2_ELEMENTS") is { } e ? int.Parse(e, CultureInfo.InvariantCulture) : 1 << 16;
        if (Selected(options, "codec") && options.PairFilter is not null)
        {
            var run = typeof(BlockwiseBlock).GetMethod("RunPieceOverBlocks", BindingFlags.NonPublic | BindingFlags.Static)!
                .CreateDelegate<Action<BlockwiseCodebook, float[], byte[], float[], int, int>>();
            var random = new Random(17);
            float[] copy = new float[n];
            foreach (BlockwiseCodebook book in new[] { BlockwiseCodebook.Int8Signed, BlockwiseCodebook.Int8Unsigned, BlockwiseCodebook.Int4Signed, BlockwiseCodebook.Int4Unsigned })
            {
                // Adam-like blocks: first moments ~ N(0, 1) per block scale, second moments their squares.
                float[] values = new float[n];
                for (int i = 0; i < n; i++)
                {
                    double gauss = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                    values[i] = (float)(book.IsSigned ? gauss : gauss * gauss);
                }

                byte[] codes = new byte[n];
                float[] absmax = new float[n / book.BlockLength];
                run(book, values, codes, absmax, 1, 0);
                run(book, values, codes, absmax, 2, 0);
                string map = book.Name.Replace(' ', '-');
                foreach ((int piece, string name, int path) in new[] { (0, "dequantize", 0), (0, "dequantize", 1), (1, "absmax", 0), (2, "quantize", 0), (2, "quantize", 1), (2, "quantize", 2) })
                {
                    string pathName = path switch { 0 => "best", 1 => "avx512-plain", _ => "avx2" };
                    PairResult result = QuickRunner.Measure(
                        $"codec/{map}/{name}/{pathName}", name, "copy 64K floats",
                        () => run(book, values, codes, absmax, piece, path),
                        () => values.CopyTo(copy, 0),
                        null, options);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# codec/{map}/{name}/{pathName}: {result.NumeratorMs * 1e6 / n:F3} ns/value"));
                    yield return result;
                    if (piece == 0)
                    {
                        run(book, values, codes, absmax, 1, 0); // dequantized values are the blocks' codes: re-take absmax, re-quantize
                        run(book, values, codes, absmax, 2, 0);
                    }
                }
            }
        }

        foreach (Func<int, Optimizer> create in new Func<int, Optimizer>[] { e => new Adam(e), e => new RmsProp(e), e => new Lion(e) })
        {
            foreach ((StatePrecision precision, string name) in new[] { (StatePrecision.Int8Blockwise, "int8"), (StatePrecision.Int4Blockwise, "int4") })
            {
                if (Selected(options, $"{name}-l2") && options.PairFilter is not null)
                {
                    Optimizer full = create(n);
                    Optimizer quantized = create(n);
                    quantized.ChangeStatePrecision(precision);
                    (PinnedBuffer p, PinnedBuffer g) = Extensions.Arenas(full, n);
                    var stepOptions = new StepOptions { MaxDegreeOfParallelism = 1 };
                    PairResult result = QuickRunner.Measure(
                        $"{name}-l2/{quantized.Descriptor.Name}/{n}/1", $"{name} state", "fp32 state",
                        () => quantized.Step(p.Span, g.Span, stepOptions),
                        () => full.Step(p.Span, g.Span, stepOptions),
                        null, options);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# {result.Name}: {result.NumeratorMs * 1e6 / n:F3} ns/element ({name}), {result.DenominatorMs * 1e6 / n:F3} (fp32)"));
                    yield return result;
                }
            }
        }
    }

    private static bool Selected(QuickOptions options, string pair) =>
        options.PairFilter is null || pair.StartsWith(options.PairFilter, StringComparison.OrdinalIgnoreCase);

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}

/// <summary>
/// The memory-only yardstick of a blockwise step: per element p and g read and p written (float32), and per state
/// buffer its code read and written (1 byte, or half a byte); per block of 256 (128) each buffer's absmax read and
/// written (4 bytes). Trivial arithmetic (p += c·g, codes and absmax rewritten unchanged), cut into the engine's
/// 16384-element pieces shared by the threads.
/// </summary>
internal sealed class BlockwiseYardstick
{
    private const int Piece = 16384;
    private readonly int _n;
    private readonly int _block;
    private readonly byte[][] _codes;
    private readonly float[][] _absmax;
    private readonly PinnedBuffer _p;
    private readonly PinnedBuffer _g;
    private readonly int _bits;

    public BlockwiseYardstick(int n, int planes, int bits, PinnedBuffer p, PinnedBuffer g)
    {
        _n = n;
        _bits = bits;
        _block = bits == 8 ? 256 : 128;
        _p = p;
        _g = g;
        _codes = new byte[planes][];
        _absmax = new float[planes][];
        for (int k = 0; k < planes; k++)
        {
            _codes[k] = GC.AllocateArray<byte>(bits == 8 ? n : n / 2, pinned: true);
            _absmax[k] = GC.AllocateArray<float>((n / _block) + 1, pinned: true);
        }
    }

    /// <summary>Bytes moved per element and step.</summary>
    public double BytesPerElement => 12 + (_codes.Length * ((2.0 * _bits / 8) + (8.0 / _block)));

    public unsafe void Run(int threads)
    {
        int pieces = (_n + Piece - 1) / Piece;
        if (threads <= 1)
        {
            for (int k = 0; k < pieces; k++)
            {
                RunPiece(k);
            }

            return;
        }

        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            for (int k = t; k < pieces; k += threads)
            {
                RunPiece(k);
            }
        });
    }

    /// <summary>
    /// One engine piece, block by block: a block's p and g, then each plane's codes and absmax of that block, so every
    /// stream is in flight together as in the blockwise step (one sweep per stream over the piece ran the two-thread
    /// yardstick about 20 % slower: 17.1 against 14.3 ms at 64M, the one-thread time unchanged).
    /// </summary>
    private void RunPiece(int piece)
    {
        ref float p = ref _p.Span[0];
        ref float g = ref _g.Span[0];
        float c = 1e-30f;
        var scale = Vector512.Create(c);
        var zero = Vector512.Create((byte)(c > 1 ? 1 : 0));
        int start = piece * Piece;
        int end = Math.Min(_n, start + Piece);
        int codeBytes = _bits == 8 ? _block : _block / 2;
        for (int b = start; b + _block <= end; b += _block)
        {
            for (int i = b; i < b + _block; i += 16)
            {
                (Vector512.LoadUnsafe(ref p, (nuint)i) + (scale * Vector512.LoadUnsafe(ref g, (nuint)i))).StoreUnsafe(ref p, (nuint)i);
            }

            int code = _bits == 8 ? b : b / 2;
            for (int k = 0; k < _codes.Length; k++)
            {
                ref byte codes = ref _codes[k][0];
                for (int i = code; i < code + codeBytes; i += 64)
                {
                    (Vector512.LoadUnsafe(ref codes, (nuint)i) ^ zero).StoreUnsafe(ref codes, (nuint)i);
                }

                ref float absmax = ref _absmax[k][b / _block];
                absmax += c * absmax;
            }
        }
    }
}
