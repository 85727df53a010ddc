// How much the page stagger of StateStorage matters: the Adam-pattern memory kernel over buffers whose starts are
// all equal mod 4096 ÷ the same kernel over buffers staggered like StateStorage (1088 bytes apart).

using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using OptGen.Kernels;

namespace OptGen.Benchmarks;

/// <summary>The <c>stagger</c> pair (quick mode with <c>--stagger</c>).</summary>
internal static class StaggerExperiment
{
    /// <summary>Measures equal page offsets ÷ staggered page offsets for 4 streams read, 3 written, at <paramref name="elements"/>.</summary>
    public static PairResult Measure(int elements, int threads, QuickOptions options)
    {
        var equal = new Layout(elements, 0);
        var staggered = new Layout(elements, 1088);
        return QuickRunner.Measure(
            $"stagger/memory-only(Adam)/{elements}/{threads}", "equal offsets", "staggered",
            () => equal.Run(threads), () => staggered.Run(threads), null, options);
    }

    /// <summary>p, g, m, v: m and v one plane apart like StateStorage, p and g separate, page offsets k·<c>step</c>.</summary>
    private sealed class Layout
    {
        private readonly PinnedBuffer _p;
        private readonly PinnedBuffer _g;
        private readonly PinnedBuffer _state;
        private readonly int _stride;
        private readonly int _elements;

        public Layout(int elements, int step)
        {
            _elements = elements;
            int rounded = (elements + 15) / 16 * 16;
            int pageFloats = 4096 / sizeof(float);
            // Plane stride: the rounded length, padded so plane 1 starts `step` bytes further into the page than plane 0.
            _stride = rounded + ((((step / sizeof(float)) - rounded) % pageFloats) + pageFloats) % pageFloats;
            _state = new PinnedBuffer(_stride * 2, 0);
            _p = new PinnedBuffer(elements, 2 * step);
            _g = new PinnedBuffer(elements, 3 * step);
            _state.Span.Fill(0.5f);
            _p.Span.Fill(0.25f);
            _g.Span.Fill(1e-3f);
        }

        public void Run(int threads)
        {
            var arguments = new KernelArguments
            {
                Step = 1,
                GradientScale = 1,
                Parameters = ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(_p.Span)),
                Gradients = ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(_g.Span)),
                State = ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(_state.Span)),
                StateStride = (nuint)_stride,
                Length = (nuint)_elements,
                MaxDegreeOfParallelism = threads,
            };
            MemoryKernel.Run(new AccessPattern(2, 2), in arguments);
        }
    }
}
