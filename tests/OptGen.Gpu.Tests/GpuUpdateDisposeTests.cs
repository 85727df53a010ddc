using System;
using System.Collections.Generic;
using ILGPU.Runtime;
using OptGen.Runtime.Tests.Reductions;
using Xunit;

namespace OptGen.Gpu.Tests;

/// <summary>
/// A disposed <see cref="GpuUpdate"/> (public through <see cref="IGpuKernelSource.CreateGpuUpdate"/>) refuses its
/// calls with <see cref="ObjectDisposedException"/>, as <see cref="GpuOptimizer"/> does; before, SetGroup and Launch ran
/// on after Dispose (by value with nothing freed, or on a freed kernel table). Dispose twice is harmless.
/// </summary>
public sealed class GpuUpdateDisposeTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly Accelerator _accelerator = fixture.Accelerator;

    public static TheoryData<string, int> Updates() => new()
    {
        { "Adam", 1 },     // kernel structs by value
        { "Adam", 40 },    // a device table of kernel structs
        { "declared factored", 1 }, // a multi-pass update
    };

    [Theory]
    [MemberData(nameof(Updates))]
    public void EveryCallAfterDisposeThrows(string rule, int groups)
    {
        ParameterLayout layout = ParameterLayout.FromShapes([[3, 4]]);
        Optimizer optimizer = rule == "Adam" ? new Adam(layout) : new DeclaredFactored(layout);
        GpuUpdate update = ((IGpuKernelSource)optimizer).CreateGpuUpdate(_accelerator, groups);
        double[] hyperparameters = new double[optimizer.Descriptor.Hyperparameters.Count];
        for (int i = 0; i < hyperparameters.Length; i++)
        {
            hyperparameters[i] = optimizer[optimizer.Descriptor.Hyperparameters[i].Name];
        }

        double[] host = new double[optimizer.Descriptor.HostStates.Count];
        update.Dispose();
        update.Dispose();

        var calls = new List<(string Name, Action Call)>
        {
            ("SetGroup", () => update.SetGroup(0, hyperparameters, host, 1, 1)),
            ("Launch", () => update.Launch(_accelerator.DefaultStream, 1, default, default)),
            ("LaunchBlockwise", () => update.LaunchBlockwise(_accelerator.DefaultStream, default, default, default, default)),
        };
        foreach ((string name, Action call) in calls)
        {
            Exception? thrown = Record.Exception(call);
            Assert.True(thrown is ObjectDisposedException, $"{rule}, {groups} group(s): {name} threw {thrown?.GetType().Name ?? "nothing"}");
        }
    }
}
