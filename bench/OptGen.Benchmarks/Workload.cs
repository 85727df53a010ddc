// Buffers for one rule at one size, shared by the generated step and its yardsticks.

using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using OptGen.Kernels;

namespace OptGen.Benchmarks;

/// <summary>A pinned float32 buffer whose first element sits at a chosen offset within the 4 KiB page (a multiple of 64 bytes).</summary>
public sealed class PinnedBuffer
{
    private const int PageFloats = 4096 / sizeof(float);
    private readonly float[] _array;
    private readonly int _start;

    /// <summary>Allocates <paramref name="length"/> elements starting at byte <paramref name="pageOffset"/> of a page.</summary>
    public PinnedBuffer(int length, int pageOffset)
    {
        Length = length;
        _array = GC.AllocateUninitializedArray<float>(length + PageFloats, pinned: true);
        nint address = Address(ref _array[0]);
        int want = ((pageOffset % 4096) + 4096) % 4096 / 64 * 64;
        int delta = (int)((want - (address % 4096) + 8192) % 4096);
        if (delta % sizeof(float) != 0)
        {
            throw new InvalidOperationException("A float array's data is not 4-byte aligned.");
        }

        _start = delta / sizeof(float);
    }

    /// <summary>The elements.</summary>
    public Span<float> Span => _array.AsSpan(_start, Length);

    /// <summary>The elements, as memory (pinned: it never moves).</summary>
    public Memory<float> Memory => _array.AsMemory(_start, Length);

    /// <summary>The number of elements.</summary>
    public int Length { get; }

    /// <summary>The address of <paramref name="value"/> (pinned memory only).</summary>
    public static unsafe nint Address(ref float value) => (nint)Unsafe.AsPointer(ref value);
}

/// <summary>
/// One rule at one size: the generated optimizer with its own (aligned, staggered) state, and p and g placed at
/// further staggered page offsets, all 64-byte aligned. The memory-only kernel runs over these very buffers.
/// </summary>
public sealed class Workload
{
    private readonly PinnedBuffer _p;
    private readonly PinnedBuffer _g;
    private readonly PinnedBuffer? _squares;
    private readonly nuint _stride;

    /// <summary>Creates the optimizer and fills p with U(−1, 1) and g with small values of mixed magnitude.</summary>
    public Workload(Rule rule, int elements)
    {
        Rule = rule;
        Elements = elements;
        Optimizer = rule.Create(elements);
        Pattern = AccessPattern.Of(Optimizer.Descriptor);

        int states = Optimizer.Descriptor.States.Count;
        int stateBase = states == 0 ? 0 : (int)(StateAddress(0) % 4096);
        if (states >= 2)
        {
            _stride = (nuint)((StateAddress(1) - StateAddress(0)) / sizeof(float));
        }

        // Continue the state's stagger (1088 bytes per buffer) for p and g.
        _p = new PinnedBuffer(elements, stateBase + (1088 * states));
        _g = new PinnedBuffer(elements, stateBase + (1088 * (states + 1)));
        Fill(_p.Span, _g.Span);
        if (Pattern.Inputs > 0)
        {
            // The per-example squares beside g: g² plus a small variance, staggered like the rest.
            _squares = new PinnedBuffer(elements, stateBase + (1088 * (states + 2)));
            Span<float> g = _g.Span, squares = _squares.Span;
            for (int i = 0; i < elements; i++)
            {
                squares[i] = (g[i] * g[i]) + 1e-6f;
            }
        }
    }

    /// <summary>
    /// p in [−1, 1) and g in [−0.005, 0.005), from a multiplicative hash of the index: deterministic, and fast
    /// enough for 64M elements (Random.NextDouble would take seconds).
    /// </summary>
    private static void Fill(Span<float> p, Span<float> g)
    {
        for (int i = 0; i < p.Length; i++)
        {
            uint h = unchecked((uint)i * 2654435761u);
            p[i] = ((h >> 8) * (2f / (1 << 24))) - 1f;
            uint k = unchecked(h * 2246822519u) ^ (h >> 13);
            g[i] = (((k >> 8) * (1f / (1 << 24))) - 0.5f) * 1e-2f;
        }
    }

    /// <summary>The rule.</summary>
    public Rule Rule { get; }

    /// <summary>Elements per tensor.</summary>
    public int Elements { get; }

    /// <summary>The generated optimizer.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The rule's memory traffic, from its descriptor.</summary>
    public AccessPattern Pattern { get; }

    /// <summary>The parameters.</summary>
    public Span<float> Parameters => _p.Span;

    /// <summary>The gradients.</summary>
    public Span<float> Gradients => _g.Span;

    /// <summary>One generated step on <paramref name="threads"/> threads.</summary>
    public void Generated(int threads)
    {
        Optimizer.MaxDegreeOfParallelism = threads;
        if (_squares is not null)
        {
            Optimizer.Step(_p.Span, _g.Span, _squares.Span);
        }
        else
        {
            Optimizer.Step(_p.Span, _g.Span);
        }
    }

    /// <summary>One memory-only pass with the rule's access pattern over the same p, g and state, on <paramref name="threads"/> threads.</summary>
    public void MemoryOnly(int threads)
    {
        ref float state = ref Optimizer.Descriptor.States.Count == 0
            ? ref Unsafe.NullRef<float>()
            : ref MemoryMarshal.GetReference(Optimizer.GetState(Optimizer.Descriptor.States[0].Name));
        var arguments = new KernelArguments
        {
            Step = 1,
            GradientScale = 1,
            Parameters = ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(_p.Span)),
            Gradients = ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(_g.Span)),
            InputOffset = _squares is null ? 0 : PinnedBuffer.Address(ref MemoryMarshal.GetReference(_squares.Span)) - PinnedBuffer.Address(ref MemoryMarshal.GetReference(_g.Span)),
            State = ref Unsafe.As<float, byte>(ref state),
            StateStride = _stride,
            Length = (nuint)Elements,
            MaxDegreeOfParallelism = threads,
        };
        MemoryKernel.Run(Pattern, in arguments);
    }

    private nint StateAddress(int k) => PinnedBuffer.Address(ref MemoryMarshal.GetReference(Optimizer.GetState(Optimizer.Descriptor.States[k].Name)));
}
