using System;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using OptGen.Kernels;
using Xunit;

namespace OptGen.Gpu.Tests;

/// <summary>
/// <see cref="GpuOptimizer"/>'s contract: bad arguments throw an exception naming the argument and write nothing;
/// length 0 is a step that launches nothing; state lives on the device and resets; disposal frees it.
/// </summary>
public sealed class GpuOptimizerTests : IClassFixture<CpuAcceleratorFixture>
{
    private const int N = 37;
    private readonly CpuAcceleratorFixture _fixture;
    private readonly Accelerator _accelerator;

    public GpuOptimizerTests(CpuAcceleratorFixture fixture)
    {
        _fixture = fixture;
        _accelerator = fixture.Accelerator;
    }

    [Fact]
    public void NullArgumentsAreRejected()
    {
        Assert.Equal("optimizer", Assert.Throws<ArgumentNullException>(() => new GpuOptimizer(null!, _accelerator)).ParamName);
        Assert.Equal("accelerator", Assert.Throws<ArgumentNullException>(() => new GpuOptimizer(new Adam(N), null!)).ParamName);
        using var gpu = new GpuOptimizer(new Adam(N), _accelerator);
        using MemoryBuffer1D<float, Stride1D.Dense> buffer = _accelerator.Allocate1D<float>(N);
        Assert.Equal("parameters", Assert.Throws<ArgumentNullException>(() => gpu.Step(null!, buffer)).ParamName);
        Assert.Equal("gradients", Assert.Throws<ArgumentNullException>(() => gpu.Step(buffer, null!)).ParamName);
    }

    [Fact]
    public void AnOptimizerWithoutAGpuKernelIsRejected()
    {
        var error = Assert.Throws<ArgumentException>(() => new GpuOptimizer(new CpuOnlyOptimizer(N), _accelerator));
        Assert.Equal("optimizer", error.ParamName);
        Assert.Contains("ILGPU", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(N - 1, N, "parameters")]
    [InlineData(N + 1, N, "parameters")]
    [InlineData(N, N - 1, "gradients")]
    public void WrongLengthsThrowAndWriteNothing(int parameterLength, int gradientLength, string name)
    {
        using var setup = new Setup(_accelerator, new Adam(N));
        using MemoryBuffer1D<float, Stride1D.Dense> p = _accelerator.Allocate1D(Ones(parameterLength));
        using MemoryBuffer1D<float, Stride1D.Dense> g = _accelerator.Allocate1D(Ones(gradientLength));

        Assert.Equal(name, Assert.Throws<ArgumentException>(() => setup.Gpu.Step(p, g)).ParamName);

        Assert.All(p.GetAsArray1D(), x => Assert.Equal(1f, x));
        setup.AssertUntouched();
    }

    [Fact]
    public void EmptyViewsAreRejectedForANonEmptyOptimizer()
    {
        using var setup = new Setup(_accelerator, new Adam(N));
        using MemoryBuffer1D<float, Stride1D.Dense> g = _accelerator.Allocate1D(Ones(N));
        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => setup.Gpu.Step(ArrayView<float>.Empty, g.View)).ParamName);
        Assert.Equal("gradients", Assert.Throws<ArgumentException>(() => setup.Gpu.Step(g.View, ArrayView<float>.Empty)).ParamName);
        setup.AssertUntouched();
    }

    [Fact]
    public void OverlappingViewsThrowAndWriteNothing()
    {
        using var setup = new Setup(_accelerator, new Adam(N));
        using MemoryBuffer1D<float, Stride1D.Dense> both = _accelerator.Allocate1D(Ones(2 * N));
        ArrayView<float> view = both.View;

        Assert.Equal("gradients", Assert.Throws<ArgumentException>(() => setup.Gpu.Step(view.SubView(0, N), view.SubView(N - 1, N))).ParamName);
        Assert.Equal("gradients", Assert.Throws<ArgumentException>(() => setup.Gpu.Step(view.SubView(1, N), view.SubView(0, N))).ParamName);
        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => setup.Gpu.Step(setup.Gpu.GetState("FirstMoment"), view.SubView(0, N))).ParamName);
        Assert.Equal("gradients", Assert.Throws<ArgumentException>(() => setup.Gpu.Step(view.SubView(0, N), setup.Gpu.GetState("SecondMoment"))).ParamName);

        Assert.All(both.GetAsArray1D(), x => Assert.Equal(1f, x));
        setup.AssertUntouched();

        // Adjacent, not overlapping: accepted.
        setup.Gpu.Step(view.SubView(0, N), view.SubView(N, N));
        Assert.Equal(setup.StepCount + 1, setup.Gpu.StepCount);
    }

    [Fact]
    public void MemoryOfAnotherAcceleratorOrAnInvalidViewIsRejected()
    {
        using var setup = new Setup(_accelerator, new Adam(N));
        using Accelerator other = _fixture.Context.CreateCPUAccelerator(0);
        using MemoryBuffer1D<float, Stride1D.Dense> foreign = other.Allocate1D(Ones(N));
        using MemoryBuffer1D<float, Stride1D.Dense> local = _accelerator.Allocate1D(Ones(N));

        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => setup.Gpu.Step(foreign, local)).ParamName);
        Assert.Equal("gradients", Assert.Throws<ArgumentException>(() => setup.Gpu.Step(local.View, foreign.View)).ParamName);
        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => setup.Gpu.Step(default(ArrayView<float>), local.View)).ParamName);
        Assert.Equal("stream", Assert.Throws<ArgumentException>(() => setup.Gpu.Step(local.View, _accelerator.Allocate1D(Ones(N)).View, stream: other.DefaultStream)).ParamName);

        Assert.All(local.GetAsArray1D(), x => Assert.Equal(1f, x));
        setup.AssertUntouched();
    }

    [Fact]
    public void HostSpanStepChecksItsArguments()
    {
        using var setup = new Setup(_accelerator, new Adam(N));
        float[] p = Ones(N);
        float[] both = Ones(2 * N);

        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => setup.Gpu.Step(p.AsSpan(1), Ones(N))).ParamName);
        Assert.Equal("gradients", Assert.Throws<ArgumentException>(() => setup.Gpu.Step(p, Ones(N + 1))).ParamName);
        Assert.Equal("gradients", Assert.Throws<ArgumentException>(() => setup.Gpu.Step(both.AsSpan(0, N), both.AsSpan(N - 1, N))).ParamName);

        Assert.All(p, x => Assert.Equal(1f, x));
        Assert.All(both, x => Assert.Equal(1f, x));
        setup.AssertUntouched();
    }

    [Fact]
    public void HostSpanStepMatchesTheCpuPath()
    {
        var cpu = new AdamW(N) { LearningRate = 0.01 };
        using var gpu = new GpuOptimizer(new AdamW(N) { LearningRate = 0.01 }, _accelerator);
        var random = new Random(7);
        float[] expected = Enumerable.Range(0, N).Select(_ => (float)random.NextDouble()).ToArray();
        float[] actual = (float[])expected.Clone();
        float[] g = new float[N];
        for (int step = 0; step < 5; step++)
        {
            ParityTests.Gradients(random, g);
            cpu.Step(expected, g);
            gpu.Step(actual, g);
        }

        ParityTests.AssertBitIdentical(expected, actual, "parameters");
        float[] m = new float[N];
        gpu.CopyState("FirstMoment", m);
        ParityTests.AssertBitIdentical(cpu.FirstMoment.ToArray(), m, "FirstMoment");
    }

    [Fact]
    public void LengthZeroCountsStepsWithoutLaunching()
    {
        using var gpu = new GpuOptimizer(new Adam(0), _accelerator);
        gpu.Step(ArrayView<float>.Empty, ArrayView<float>.Empty);
        gpu.Step(Span<float>.Empty, ReadOnlySpan<float>.Empty);
        Assert.Equal(2, gpu.StepCount);
        Assert.Equal(0, gpu.GetState("FirstMoment").Length);
    }

    [Fact]
    public void StateStartsFromTheHostOptimizerAndResetsToItsInitialValue()
    {
        var host = new GpuAdagrad(N);
        using var gpu = new GpuOptimizer(host, _accelerator);
        string state = host.Descriptor.States[0].Name;
        float[] values = new float[N];
        gpu.CopyState(state, values);
        Assert.All(values, v => Assert.Equal(0.1f, v));

        float[] p = Ones(N);
        gpu.Step(p, Ones(N));
        gpu.Step(p, Ones(N));
        gpu.CopyState(state, values);
        Assert.All(values, v => Assert.Equal(2.1f, v, 6));
        Assert.All(host.GetState(state).ToArray(), v => Assert.Equal(0.1f, v));

        gpu.Reset();
        Assert.Equal(0, gpu.StepCount);
        gpu.CopyState(state, values);
        Assert.All(values, v => Assert.Equal(0.1f, v));
        Assert.Equal("name", Assert.Throws<ArgumentException>(() => gpu.GetState("Nope")).ParamName);
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => gpu.CopyState(state, new float[N - 1])).ParamName);
    }

    [Fact]
    public void ResetThenRunAgainRepeatsTheRun()
    {
        using var gpu = new GpuOptimizer(new SgdNesterov(N) { LearningRate = 0.1 }, _accelerator);
        float[] first = Run(gpu);
        gpu.Reset();
        float[] second = Run(gpu);
        ParityTests.AssertBitIdentical(first, second, "parameters after reset");

        static float[] Run(GpuOptimizer gpu)
        {
            var random = new Random(3);
            float[] p = Enumerable.Range(0, N).Select(_ => (float)random.NextDouble()).ToArray();
            float[] g = new float[N];
            for (int i = 0; i < 4; i++)
            {
                ParityTests.Gradients(random, g);
                gpu.Step(p, g);
            }

            return p;
        }
    }

    [Fact]
    public void DisposedOptimizerThrows()
    {
        var gpu = new GpuOptimizer(new Adam(N), _accelerator);
        gpu.Dispose();
        gpu.Dispose();
        Assert.Throws<ObjectDisposedException>(() => gpu.Step(Ones(N), Ones(N)));
        Assert.Throws<ObjectDisposedException>(() => gpu.GetState("FirstMoment"));
    }

    [Fact]
    public void LaunchesAtMostOneThreadPerElementSlot()
    {
        // One chunk of the tensor table holds GpuChunk.Capacity element slots.
        using var small = new GpuOptimizer(new Adam(3), _accelerator);
        using var large = new GpuOptimizer(new Adam(100_000), _accelerator);
        Assert.Equal(Math.Min(_accelerator.MaxNumThreads, GpuChunk.Capacity), small.Threads);
        Assert.Equal(_accelerator.MaxNumThreads, large.Threads);
    }

    private static float[] Ones(int n) => Enumerable.Repeat(1f, n).ToArray();

    /// <summary>A GPU optimizer after one good step, with a snapshot of its state to compare after a bad call.</summary>
    private sealed class Setup : IDisposable
    {
        private readonly float[][] _state;

        public Setup(Accelerator accelerator, Optimizer optimizer)
        {
            Gpu = new GpuOptimizer(optimizer, accelerator);
            Gpu.Step(Ones(optimizer.Length), Ones(optimizer.Length));
            Gpu.Step(Ones(optimizer.Length), Ones(optimizer.Length));
            _state = optimizer.Descriptor.States.Select(s => Copy(s.Name)).ToArray();
            StepCount = Gpu.StepCount;
        }

        public GpuOptimizer Gpu { get; }

        public long StepCount { get; }

        public void AssertUntouched()
        {
            Assert.Equal(StepCount, Gpu.StepCount);
            for (int k = 0; k < _state.Length; k++)
            {
                ParityTests.AssertBitIdentical(_state[k], Copy(Gpu.Optimizer.Descriptor.States[k].Name), "state");
            }
        }

        public void Dispose() => Gpu.Dispose();

        private float[] Copy(string name)
        {
            float[] values = new float[Gpu.Length];
            Gpu.CopyState(name, values);
            return values;
        }
    }

    /// <summary>An optimizer written by hand, not generated in a project that references ILGPU: no GPU kernel.</summary>
    private sealed class CpuOnlyOptimizer : Optimizer
    {
        private static readonly OptimizerDescriptor Rule = new("hand-written", "0", Array.Empty<HyperparameterDescriptor>(), Array.Empty<StateDescriptor>(), 8, 4);

        public CpuOnlyOptimizer(int length)
            : base(Rule, length)
        {
        }

        protected override void RunKernel<TParameter, TGradient, TState>(scoped in KernelArguments arguments)
        {
        }
    }
}
