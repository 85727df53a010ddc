// BenchmarkDotNet runs: absolute times per step with BenchmarkDotNet's statistics (one process per case).

using System.Linq;
using BenchmarkDotNet.Attributes;

namespace OptGen.Benchmarks;

/// <summary>The generated step and its three yardsticks, per rule, size and thread count.</summary>
[MemoryDiagnoser]
[WarmupCount(3)]
[IterationCount(10)]
public class StepBenchmarks
{
    private Workload _work = null!;
    private Baseline _unfused = null!;
    private Baseline _scalar = null!;

    /// <summary>The rule, by its short name.</summary>
    [Params("Adam", "AdamW", "SGD-momentum", "RMSprop", "Adagrad", "AdamMinT")]
    public string Rule { get; set; } = "Adam";

    /// <summary>Elements per tensor.</summary>
    [Params(1 << 20, 1 << 24)]
    public int Elements { get; set; }

    /// <summary>Threads for the generated and memory-only kernels.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>Allocates the rule's buffers.</summary>
    [GlobalSetup]
    public void Setup()
    {
        Rule rule = Benchmarks.Rule.All.Single(r => r.Name == Rule);
        _work = new Workload(rule, Elements);
        _unfused = rule.Unfused(Elements);
        _scalar = rule.Scalar(Elements);
    }

    /// <summary>The generated fused step.</summary>
    [Benchmark(Baseline = true)]
    public void Generated() => _work.Generated(Threads);

    /// <summary>The memory-only kernel with the rule's access pattern.</summary>
    [Benchmark]
    public void MemoryOnly() => _work.MemoryOnly(Threads);

    /// <summary>The TensorPrimitives composition (single-threaded).</summary>
    [Benchmark]
    public void Unfused() => _unfused.Step(_work.Parameters, _work.Gradients);

    /// <summary>The scalar loop (single-threaded).</summary>
    [Benchmark]
    public void Scalar() => _scalar.Step(_work.Parameters, _work.Gradients);
}
