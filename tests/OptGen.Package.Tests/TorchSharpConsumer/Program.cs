// A consumer of the OptGen.TorchSharp package: a rule declared here with [Update] expressions and OptGen's Adam, each
// behind FusedOptimizer on a TorchSharp nn.Linear, trained for a few steps with autograd's gradients. It prints every
// input and result as round-trip float32 text, one record a line, in the format of ../Consumer:
//   p0 <optimizer>.<parameter> <i> <value>       the initial parameters
//   g <optimizer>.<parameter> <t> <i> <value>    the gradient of step t (from loss.backward())
//   p <optimizer>.<parameter> <t> <i> <value>    the parameters after step t
// PackageTests checks the results against float64 references written from the formulas. Then each adoption snippet of
// the docs (AdoptionSnippet*.g.cs, which PackageFixture writes from README.md and docs/torchsharp.md) creates an
// optimizer for an nn.Linear, which takes one step:
//   adoption <page>:<line> <whether the step changed the weights>

using System.Globalization;
using OptGen;
using OptGen.TorchSharp;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

const int Steps = 6; // as ../Consumer (PackageTests.Check expects six)

Train("DecayedMomentum", layout => new DecayedMomentum(layout));
Train("Adam", layout => new OptGen.Adam(layout) { LearningRate = 0.01 }); // TorchSharp.Modules has an Adam too
foreach ((string where, Func<nn.Module, torch.optim.Optimizer> create) in AdoptionSnippets.All)
{
    torch.random.manual_seed(3);
    using Linear model = nn.Linear(4, 2);
    float[] before = model.weight!.data<float>().ToArray();
    using torch.optim.Optimizer optimizer = create(model);
    optimizer.zero_grad();
    using (Tensor loss = model.forward(torch.ones(8, 4)).sum())
    {
        loss.backward();
    }

    optimizer.step();
    Console.WriteLine($"adoption {where} {(model.weight!.data<float>().ToArray().SequenceEqual(before) ? "unchanged" : "stepped")}");
}

return 0;

static void Train<TOptimizer>(string name, Func<ParameterLayout, TOptimizer> create)
    where TOptimizer : Optimizer
{
    torch.random.manual_seed(7);
    using Linear model = nn.Linear(6, 3);
    using Tensor x = torch.randn(16, 6);
    using Tensor y = torch.randn(16, 3);
    (string Name, Parameter Parameter)[] parameters = model.named_parameters().ToArray();
    using FusedOptimizer<TOptimizer> optimizer = FusedOptimizer.Create(parameters, create);
    Print("p0", name, null, parameters, p => p);
    for (int t = 1; t <= Steps; t++)
    {
        optimizer.zero_grad();
        using (Tensor loss = nn.functional.mse_loss(model.forward(x), y))
        {
            loss.backward();
        }

        Print("g", name, t, parameters, p => p.grad ?? throw new InvalidOperationException("No gradient."));
        optimizer.step();
        Print("p", name, t, parameters, p => p);
    }
}

static void Print(string kind, string optimizer, int? t, (string Name, Parameter Parameter)[] parameters, Func<Parameter, Tensor> select)
{
    foreach ((string name, Parameter parameter) in parameters)
    {
        float[] values = select(parameter).detach().cpu().data<float>().ToArray();
        string step = t is null ? string.Empty : string.Create(CultureInfo.InvariantCulture, $"{t} ");
        for (int i = 0; i < values.Length; i++)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{kind} {optimizer}.{name} {step}{i} {values[i]:R}"));
        }
    }
}

/// <summary>Heavy-ball momentum with decoupled weight decay, declared as update expressions.</summary>
[Optimizer]
[Hyperparameter("LearningRate", 0.05)]
[Hyperparameter("Mu", 0.9)]
[Hyperparameter("Decay", 0.01)]
[State("b")]
[Update("b = Mu * b + g")]
[Update("p = p * (1 - LearningRate * Decay) - LearningRate * b")]
public partial class DecayedMomentum;
