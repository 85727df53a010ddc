using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptGen.TorchSharp.Tests;

/// <summary>A disposed FusedOptimizer refuses every public call, as GpuOptimizer does; it stepped on before.</summary>
public class DisposeTests
{
    [Fact]
    public void EveryPublicCallAfterDisposeThrowsAndNothingIsWritten()
    {
        Parameter[] parameters = Fixture.MakeParameters();
        var fused = FusedOptimizer.Create(parameters, layout => new OptGen.Adam(layout));
        OptGen.Adam inner = fused.Optimizer;
        Fixture.SetGradients(parameters, Fixture.Gradients(parameters, 0));
        fused.step();
        var saved = fused.state_dict();
        var checkpoint = new MemoryStream();
        fused.SaveCheckpoint(checkpoint);
        var dictionary = new MemoryStream();
        using (var writer = new BinaryWriter(dictionary, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            fused.save_state_dict(writer);
        }

        Fixture.SetGradients(parameters, Fixture.Gradients(parameters, 1));
        Tensor[] before = parameters.Select(p => p.detach().clone()).ToArray();
        fused.Dispose();
        fused.Dispose(); // idempotent

        bool closureRan = false;
        var calls = new List<(string Name, Action Call)>
        {
            ("step", () => fused.step(() => { closureRan = true; return torch.zeros(1); })),
            ("step()", () => fused.step()),
            ("Step", () => fused.Step(null)),
            ("zero_grad", () => fused.zero_grad()),
            ("parameters", () => _ = fused.parameters().ToArray()),
            ("state_dict", () => fused.state_dict()),
            ("load_state_dict", () => fused.load_state_dict(saved)),
            ("load_state_dict(reader)", () => fused.load_state_dict(new BinaryReader(new MemoryStream(dictionary.ToArray())))),
            ("save_state_dict(writer)", () => fused.save_state_dict(new BinaryWriter(new MemoryStream()))),
            ("save_state_dict(path)", () => fused.save_state_dict(Path.Combine(Path.GetTempPath(), "optgen-disposed-" + Guid.NewGuid()))),
            ("SaveCheckpoint", () => fused.SaveCheckpoint(new MemoryStream())),
            ("SaveCheckpoint(path)", () => fused.SaveCheckpoint(Path.Combine(Path.GetTempPath(), "optgen-disposed-" + Guid.NewGuid()))),
            ("LoadCheckpoint", () => fused.LoadCheckpoint(new MemoryStream(checkpoint.ToArray()))),
            ("LoadCheckpoint(path)", () => fused.LoadCheckpoint("missing.optgen")),
            ("add_param_group", () => fused.add_param_group(new ParamGroup())),
            ("Optimizer", () => _ = fused.Optimizer),
            ("Options", () => _ = fused.Options),
            ("Options=", () => fused.Options = null),
            ("LastResult", () => _ = fused.LastResult),
            ("Parameters", () => _ = fused.Parameters),
            ("ParamGroups", () => _ = fused.ParamGroups),
            ("Groups", () => _ = fused.Groups),
            ("Momentum", () => _ = fused.Momentum),
            ("Momentum=", () => fused.Momentum = 0.5),
            ("Betas", () => _ = fused.Betas),
            ("Betas=", () => fused.Betas = (0.5, 0.9)),
        };

        foreach ((string name, Action call) in calls)
        {
            Exception? thrown = Record.Exception(call);
            Assert.True(thrown is ObjectDisposedException, $"{name}: {thrown?.GetType().Name ?? "no exception"}");
        }

        Assert.False(closureRan);
        Assert.Equal(1, inner.StepCount);
        Assert.Equal(0.9, inner.Beta1);
        for (int j = 0; j < parameters.Length; j++)
        {
            Assert.True(parameters[j].equal(before[j]).all().item<bool>(), $"parameter {j} changed after Dispose");
        }
    }
}
