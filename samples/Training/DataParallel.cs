using System;
using OptGen.Distributed;

namespace OptGen.Samples.Training;

/// <summary>
/// The training loop data-parallel over <see cref="ICommunicator"/> ranks (<c>--mpi</c> under <c>mpirun</c>): every
/// rank draws the same mini-batch and takes every R-th example of it, and a <see cref="ShardedOptimizer{TOptimizer}"/>
/// (ZeRO-1) averages the ranks' gradients and steps each rank's shard of the optimizer state. The gradient factor is
/// R / batch size, so the averaged gradient is the full batch's mean gradient, as in <see cref="Trainer.Run"/>.
/// </summary>
public static class DataParallel
{
    /// <summary>Trains one model; returns the final mean training loss and this rank's optimizer state bytes.</summary>
    public static (double FinalLoss, long StateBytes, long UnshardedStateBytes) Run(ICommunicator communicator, Problem problem, OptimizerChoice choice, int steps, int seed)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(choice);
        var model = new Mlp(problem.Loss, problem.Layers);
        var parameters = new float[model.ParameterCount];
        var gradients = new float[model.ParameterCount];
        model.Initialize(parameters, new Random(seed));
        var sampler = new Random(seed + 1);
        var optimizer = new ShardedOptimizer<Optimizer>(communicator, ParameterLayout.Single(model.ParameterCount), layout => choice.Create(layout.TotalLength));
        float scale = (float)communicator.Size / problem.BatchSize;
        for (int step = 1; step <= steps; step++)
        {
            Array.Clear(gradients);
            for (int b = 0; b < problem.BatchSize; b++)
            {
                int i = sampler.Next(problem.Train.Count); // every rank draws the whole batch, so the samplers stay in step
                if (b % communicator.Size == communicator.Rank)
                {
                    model.LossAndGradient(parameters, problem.Train.Input(i), problem.Train.Target(i), gradients, scale);
                }
            }

            optimizer.Step(parameters, gradients);
        }

        return (Trainer.MeanLoss(model, parameters, problem.Train), optimizer.StateBytes, optimizer.UnshardedStateBytes);
    }
}
