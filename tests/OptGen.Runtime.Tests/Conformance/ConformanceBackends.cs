using System;
using System.Collections.Generic;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace OptGen.Runtime.Tests.Conformance;

/// <summary>
/// The backends a conformance case runs on: the CPU SIMD kernel (<see cref="CpuSimd"/>), the generated ILGPU kernel
/// on ILGPU's CPU accelerator (<see cref="IlgpuCpu"/>, always available: it simulates a GPU in .NET) and the same
/// kernel on a CUDA device (<see cref="IlgpuCuda"/>, only when one is found). Free of any test framework.
/// </summary>
public static class ConformanceBackends
{
    /// <summary>The CPU SIMD path: <see cref="Optimizer.Step(Span{float}, ReadOnlySpan{float})"/>.</summary>
    public const string CpuSimd = "cpu-simd";

    /// <summary>The ILGPU kernel through <c>GpuOptimizer</c> on ILGPU's CPU accelerator.</summary>
    public const string IlgpuCpu = "ilgpu-cpu";

    /// <summary>The ILGPU kernel through <c>GpuOptimizer</c> on CUDA device 0.</summary>
    public const string IlgpuCuda = "ilgpu-cuda";

    private static readonly Lazy<bool> CudaPresent = new(DetectCuda);

    /// <summary>Whether a CUDA device (and its driver) is present.</summary>
    public static bool HasCuda => CudaPresent.Value;

    /// <summary>The backends available on this machine: CPU SIMD, ILGPU CPU, and ILGPU CUDA when a device exists.</summary>
    public static IReadOnlyList<string> Available()
    {
        var backends = new List<string> { CpuSimd, IlgpuCpu };
        if (HasCuda)
        {
            backends.Add(IlgpuCuda);
        }

        return backends;
    }

    private static bool DetectCuda()
    {
        try
        {
            using Context context = Context.Create(builder => builder.Cuda());
            return context.GetCudaDevices().Count > 0;
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            // No driver (libcuda) or an unusable one: no CUDA backend.
            return false;
        }
    }
}

/// <summary>
/// One ILGPU context and accelerator per backend, created on first use and shared by every case of a test class
/// (each generated kernel is compiled once per accelerator and reused). Not thread-safe: the cases of one class run
/// one after another.
/// </summary>
public sealed class ConformanceAccelerators : IDisposable
{
    private Context? _cpuContext;
    private Accelerator? _cpu;
    private Context? _cudaContext;
    private Accelerator? _cuda;

    /// <summary>The accelerator that runs <paramref name="backend"/>, or null for the CPU SIMD path.</summary>
    /// <exception cref="ArgumentException">The backend is unknown, or is CUDA and no CUDA device exists.</exception>
    public Accelerator? For(string backend)
    {
        switch (backend)
        {
            case ConformanceBackends.CpuSimd:
                return null;
            case ConformanceBackends.IlgpuCpu:
                if (_cpu is null)
                {
                    _cpuContext = Context.Create(builder => builder.DefaultCPU().Optimize(OptimizationLevel.O1));
                    _cpu = _cpuContext.CreateCPUAccelerator(0);
                }

                return _cpu;
            case ConformanceBackends.IlgpuCuda:
                if (!ConformanceBackends.HasCuda)
                {
                    throw new ArgumentException("No CUDA device is present.", nameof(backend));
                }

                if (_cuda is null)
                {
                    _cudaContext = Context.Create(builder => builder.Cuda().Optimize(OptimizationLevel.O1));
                    _cuda = _cudaContext.CreateCudaAccelerator(0);
                }

                return _cuda;
            default:
                throw new ArgumentException(
                    $"Unknown backend '{backend}'; known: {ConformanceBackends.CpuSimd}, {ConformanceBackends.IlgpuCpu}, {ConformanceBackends.IlgpuCuda}.",
                    nameof(backend));
        }
    }

    /// <summary>Disposes every accelerator and context created.</summary>
    public void Dispose()
    {
        _cpu?.Dispose();
        _cpuContext?.Dispose();
        _cuda?.Dispose();
        _cudaContext?.Dispose();
        _cpu = _cuda = null;
        _cpuContext = _cudaContext = null;
    }
}
